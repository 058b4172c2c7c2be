import Foundation

/// Runs the built `outflow` binary (or another program) as a user would, capturing its
/// output and exit status.
enum OutflowProcess {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// The package root, found from this file's path, so tests can use its scripts and files.
    static let sourceRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct BinaryNotFound: Error, CustomStringConvertible {
        var description: String { "the outflow binary was not found beside the test bundle: run `swift build` first" }
    }

    /// The `outflow` binary in the build directory that holds the test bundle (`swift test`
    /// builds it: the test target depends on the executable).
    static func binary() throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("outflow")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw BinaryNotFound()
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], currentDirectory: URL? = nil) throws -> Result {
        try run(executable: try binary(), arguments, environment: environment, currentDirectory: currentDirectory)
    }

    static func run(executable: URL, _ arguments: [String], environment: [String: String] = [:], currentDirectory: URL? = nil) throws -> Result {
        // Output goes to files rather than pipes: a child that writes a lot can never block.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputURL = scratch.appendingPathComponent("stdout"), errorURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL), error = try FileHandle(forWritingTo: errorURL)

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = currentDirectory ?? sourceRoot
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try output.close()
        try error.close()
        return Result(
            status: process.terminationStatus,
            standardOutput: try String(contentsOf: outputURL, encoding: .utf8),
            standardError: try String(contentsOf: errorURL, encoding: .utf8))
    }

    /// A program found on PATH, or nil.
    static func which(_ program: String) -> URL? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(program)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}

struct MissingTestPrerequisite: Error, CustomStringConvertible {
    var description: String
}

/// The throwaway server's URL that `make test` exports; tests fail without it, never skip.
func testDatabaseURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_URL"], !url.isEmpty else {
        throw MissingTestPrerequisite(description:
            "OUTFLOW_TEST_PG_URL is not set: this test needs the throwaway PostgreSQL that `make test` starts (or: scripts/pg-sandbox run -- swift test)")
    }
    return url
}
