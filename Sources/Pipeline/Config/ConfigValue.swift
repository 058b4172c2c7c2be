import Foundation

/// The resolved pipeline as a tree, defaults filled in and secrets redacted: what `explain`
/// prints. Secret values are never stored here, only their redacted form
/// (`${env:OUTFLOW_PG_URL}`), so the tree is safe to print, log or send anywhere.
public indirect enum ConfigValue: Sendable, Equatable {
    public enum ScalarKind: Sendable, Equatable { case string, number, bool, null }

    case scalar(String, kind: ScalarKind, secret: Bool)
    case list([ConfigValue])
    case object([Member])

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: ConfigValue
        /// True when the file did not set it and this is the default.
        public var isDefault: Bool
    }

    static func string(_ text: String, secret: Bool = false) -> ConfigValue { .scalar(text, kind: .string, secret: secret) }

    /// The value of an object's member.
    func member(_ key: String) -> ConfigValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    /// This value with the member at `path` replaced (its default mark kept).
    func replacing(path: ArraySlice<String>, with value: ConfigValue) -> ConfigValue {
        guard let key = path.first, case .object(var members) = self, let index = members.firstIndex(where: { $0.key == key }) else {
            return path.isEmpty ? value : self
        }
        members[index].value = path.count == 1 ? value : members[index].value.replacing(path: path.dropFirst(), with: value)
        return .object(members)
    }

    func replacing(path: [String], with value: ConfigValue) -> ConfigValue { replacing(path: path[...], with: value) }
    static func number(_ text: String, secret: Bool = false) -> ConfigValue { .scalar(text, kind: .number, secret: secret) }

    public subscript(key: String) -> ConfigValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    /// YAML text of the redacted tree; defaults are marked with a `# default` comment and
    /// secrets with `# secret`.
    public var redactedYAML: String {
        var output = ""
        writeYAML(to: &output, indent: "")
        return output
    }

    private func writeYAML(to output: inout String, indent: String) {
        switch self {
        case .scalar, .list([]), .object([]):
            break
        case .list(let items):
            for item in items {
                switch item {
                case .scalar, .list([]), .object([]):
                    output += "\(indent)- \(item.inlineYAML)\(item.comment(isDefault: false))\n"
                case .list:
                    output += "\(indent)-\n"
                    item.writeYAML(to: &output, indent: indent + "  ")
                case .object:
                    // The first member on the dash line, the rest aligned under it.
                    var nested = ""
                    item.writeYAML(to: &nested, indent: indent + "  ")
                    output += indent + "- " + nested.dropFirst(indent.count + 2)
                }
            }
        case .object(let members):
            for member in members {
                switch member.value {
                case .scalar, .list([]), .object([]):
                    output += "\(indent)\(Self.yamlString(member.key)): \(member.value.inlineYAML)\(member.value.comment(isDefault: member.isDefault))\n"
                default:
                    output += "\(indent)\(Self.yamlString(member.key)):\(member.isDefault ? "  # default" : "")\n"
                    member.value.writeYAML(to: &output, indent: indent + "  ")
                }
            }
        }
    }

    private func comment(isDefault: Bool) -> String {
        var notes: [String] = []
        if isDefault { notes.append("default") }
        if case .scalar(_, _, true) = self { notes.append("secret") }
        return notes.isEmpty ? "" : "  # " + notes.joined(separator: ", ")
    }

    private var inlineYAML: String {
        switch self {
        case .scalar(let text, let kind, _):
            return kind == .string ? Self.yamlString(text) : text
        case .list: return "[]"
        case .object: return "{}"
        }
    }

    /// Quotes a string when plain YAML would read it as something else.
    static func yamlString(_ text: String) -> String {
        let special = ["", "null", "~", "true", "false", "yes", "no", "on", "off"]
        let needsQuotes = special.contains(text.lowercased())
            || text.first.map { " -?:,[]{}#&*!|>'\"%@`".contains($0) } ?? true
            || text.last == " " || text.contains(": ") || text.contains(" #")
            || Double(text) != nil || text.unicodeScalars.contains { $0.value < 0x20 }
        guard needsQuotes else { return text }
        var output = ""
        JSONText.writeString(text, to: &output)
        return output
    }

    /// JSON of the redacted tree.
    public var json: JSONDocument {
        switch self {
        case .scalar(let text, let kind, let secret):
            if secret { return .string(text) }
            switch kind {
            case .string: return .string(text)
            case .number: return .number(text)
            case .bool: return .bool(text == "true")
            case .null: return .null
            }
        case .list(let items): return .array(items.map(\.json))
        case .object(let members): return .object(members.map { ($0.key, $0.value.json) })
        }
    }
}

/// A string that may hold a secret: `description`, `debugDescription` and reflection show the
/// redacted form, so string interpolation, `print`, `dump` and loggers cannot leak it. Read
/// `value` only where the secret is used (to connect).
public struct SecretString: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String
    /// Whether the value came from `${env:…}` or `${file:…}`.
    public let isSecret: Bool
    /// The text as written in the file, references by name: `${env:OUTFLOW_PG_URL}`.
    public let redacted: String

    public init(value: String, isSecret: Bool, redacted: String) {
        self.value = value
        self.isSecret = isSecret
        self.redacted = isSecret ? redacted : value
    }

    public var description: String { redacted }
    public var debugDescription: String { "SecretString(\(redacted))" }
    public var customMirror: Mirror { Mirror(self, children: ["redacted": redacted]) }
}

/// The secret values of a loaded pipeline, to scrub them out of any text before it is shown:
/// an error from libpq may echo a connection string, for example.
public struct SecretValues: Sendable, CustomStringConvertible, CustomReflectable {
    private var values: [String] = []

    /// Values shorter than this are not scrubbed: replacing every "1" in a message would hide
    /// more than it protects.
    static let minimumLength = 4

    /// None: for commands that read no pipeline file.
    public init() {}

    mutating func insert(_ value: String) {
        guard value.count >= Self.minimumLength, !values.contains(value) else { return }
        values.append(value)
        // Longest first, so a secret containing another is replaced whole.
        values.sort { $0.count > $1.count }
    }

    public var isEmpty: Bool { values.isEmpty }

    /// `text` with every secret value replaced by `[redacted]`.
    public func redact(_ text: String) -> String {
        values.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }

    public var description: String { "SecretValues(\(values.count) values)" }
    public var customMirror: Mirror { Mirror(self, children: ["count": values.count]) }
}
