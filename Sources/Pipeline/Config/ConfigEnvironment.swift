import Foundation

/// Where `${env:NAME}` and `${file:PATH}` get their values. Injected so tests and tools do
/// not depend on the process environment or the file system.
public struct ConfigEnvironment: Sendable {
    public var variable: @Sendable (String) -> String?
    /// Reads a file's text; throws when it cannot.
    public var readFile: @Sendable (String) throws -> String

    public init(variable: @escaping @Sendable (String) -> String?, readFile: @escaping @Sendable (String) throws -> String) {
        self.variable = variable
        self.readFile = readFile
    }

    /// The process environment and the real file system.
    public static let process = ConfigEnvironment(
        variable: { ProcessInfo.processInfo.environment[$0] },
        readFile: { try String(contentsOfFile: $0, encoding: .utf8) })

    /// Fixed variables and files, for tests.
    public static func fixed(_ variables: [String: String], files: [String: String] = [:]) -> ConfigEnvironment {
        ConfigEnvironment(
            variable: { variables[$0] },
            readFile: { path in
                guard let text = files[path] else { throw CocoaError(.fileReadNoSuchFile) }
                return text
            })
    }
}
