/// A JSON document with ordered object members, for the JSON Schema, `validate --format json`
/// and `explain --format json` (Foundation's encoder does not keep key order).
public indirect enum JSONDocument: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text, exact.
    case number(String)
    case string(String)
    case array([JSONDocument])
    case object([(String, JSONDocument)])

    public static func == (lhs: JSONDocument, rhs: JSONDocument) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public static func int(_ value: Int) -> JSONDocument { .number(String(value)) }

    public subscript(key: String) -> JSONDocument? {
        if case .object(let members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }

    /// Pretty-printed with two-space indentation.
    public func rendered(indent: String = "") -> String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let text): return text
        case .string(let text):
            var output = ""
            JSONText.writeString(text, to: &output)
            return output
        case .array(let items):
            if items.isEmpty { return "[]" }
            let inner = indent + "  "
            return "[\n" + items.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            let inner = indent + "  "
            return "{\n" + members.map { key, value in
                var name = ""
                JSONText.writeString(key, to: &name)
                return inner + name + ": " + value.rendered(indent: inner)
            }.joined(separator: ",\n") + "\n\(indent)}"
        }
    }
}
