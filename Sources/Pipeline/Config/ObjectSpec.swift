import PostgresSource
import Yams

/// A decoded value with how `explain` shows it.
struct Decoded<Value> {
    var value: Value
    var shown: ConfigValue
}

/// State shared by the decoders of one file.
struct DecodingContext {
    var log = DiagnosticLog()
    var secrets = SecretValues()
    /// The file's lines, to map a column inside a quoted scalar back onto the file.
    var lines: [Substring]
    /// Decoded before the stages, for the checks that span sections.
    var sourceTables: [TableName]?
    var sinkPartitions: Int?

    init(sourceText: String) {
        lines = sourceText.split(separator: "\n", omittingEmptySubsequences: false)
    }
}

/// One field of an object: its name, documentation, value type and default. The same
/// description drives decoding (which keys exist, what they hold) and the JSON Schema, so the
/// two cannot disagree.
struct FieldSpec<Value: Sendable>: Sendable {
    enum Presence: Sendable {
        case required
        case optional
        /// The default and how the schema and `explain` show it.
        case defaulted(Value, shown: ConfigValue)
    }

    var name: String
    var doc: String
    var value: ValueSpec<Value>
    var presence: Presence

    init(_ name: String, _ value: ValueSpec<Value>, _ presence: Presence, doc: String) {
        self.name = name
        self.doc = doc
        self.value = value
        self.presence = presence
    }

    var schema: FieldSchema {
        var members: [(String, JSONDocument)] = [("description", .string(doc))]
        if case .defaulted(_, let shown) = presence { members.append(("default", shown.json)) }
        var schema = value.schema
        if case .object(let existing) = schema {
            schema = .object(members + existing.filter { key, _ in !members.contains { $0.0 == key } })
        }
        let isRequired = if case .required = presence { true } else { false }
        return FieldSchema(name: name, schema: schema, isRequired: isRequired)
    }
}

struct FieldSchema: Sendable {
    var name: String
    var schema: JSONDocument
    var isRequired: Bool
}

/// An object in the file: a stage's options, `source.postgres`, `sink.log`, the top level.
struct ObjectSpec: Sendable {
    /// How messages name it: "dedupe stage", "sink.log".
    var name: String
    var doc: String
    var fields: [FieldSchema]
    /// The field a lone scalar stands for: `filter: "payload.amount > 0"` is
    /// `filter: {condition: "payload.amount > 0"}`.
    var shorthand: String?

    var schema: JSONDocument {
        let object: JSONDocument = .object([
            ("type", .string("object")),
            ("description", .string(doc)),
            ("properties", .object(fields.map { ($0.name, $0.schema) })),
            ("required", .array(fields.filter(\.isRequired).map { .string($0.name) })),
            ("patternProperties", .object([("^x-", .object([]))])),
            ("additionalProperties", .bool(false)),
        ])
        guard let shorthand, let field = fields.first(where: { $0.name == shorthand }) else { return object }
        return .object([("oneOf", .array([field.schema, object]))])
    }

    var fieldNames: [String] { fields.map(\.name) }
}

/// Reads the fields of one mapping against its spec: reports unknown keys (with "did you
/// mean"), missing required fields and wrong types, and records what `explain` shows.
final class ObjectReader {
    let spec: ObjectSpec
    let location: FileLocation
    private let mapping: ConfigMapping?
    private(set) var members: [ConfigValue.Member] = []

    init(_ node: ConfigNode, spec: ObjectSpec, context: inout DecodingContext) {
        self.spec = spec
        self.location = node.location
        switch node {
        case .mapping(let mapping):
            self.mapping = mapping
        case .scalar(let scalar) where spec.shorthand != nil && scalar.kind != .null:
            self.mapping = ConfigMapping(
                entries: [ConfigMapping.Entry(key: ConfigScalar(
                    text: spec.shorthand!, kind: .string, style: .plain, location: scalar.location, isSecret: false,
                    redacted: spec.shorthand!), value: node)],
                location: scalar.location)
        default:
            self.mapping = nil
            context.log.error(
                .wrongType, "\(spec.name) must be a mapping, found \(node.kindName)", at: node.location,
                hint: spec.shorthand.map { "write a mapping of options, or the \($0) alone" })
            return
        }
        for entry in mapping!.entries where !spec.fieldNames.contains(entry.key.text) && !entry.key.text.hasPrefix("x-") {
            context.log.error(
                .unknownKey, "unknown key '\(entry.key.text)' in \(spec.name)", at: entry.key.location,
                length: entry.key.text.unicodeScalars.count,
                hint: Suggestions.didYouMean(entry.key.text, among: spec.fieldNames)
                    ?? "\(spec.name) has \(spec.fieldNames.map { "'\($0)'" }.joined(separator: ", ")); keys starting with 'x-' are ignored")
        }
    }

    var isMapping: Bool { mapping != nil }

    /// What `explain` shows, in the order the spec lists the fields (not the order they
    /// were read in, which follows their dependencies).
    var shown: ConfigValue {
        let names = spec.fieldNames
        return .object(members.enumerated().sorted { a, b in
            (names.firstIndex(of: a.element.key) ?? names.count, a.offset) < (names.firstIndex(of: b.element.key) ?? names.count, b.offset)
        }.map(\.element))
    }

    func has(_ key: String) -> Bool { node(key) != nil }

    func node(_ key: String) -> ConfigNode? {
        guard let entry = mapping?.entry(key) else { return nil }
        if case .scalar(let scalar) = entry.value, scalar.kind == .null { return nil }
        return entry.value
    }

    func keyLocation(_ key: String) -> FileLocation? { mapping?.entry(key)?.key.location }

    /// The field's value: nil when it is missing (reported when required), invalid
    /// (reported), or optional and absent. A field set to `null` counts as absent.
    func read<Value>(_ field: FieldSpec<Value>, _ context: inout DecodingContext) -> Value? {
        assert(spec.fieldNames.contains(field.name), "\(field.name) is not in the spec of \(spec.name)")
        guard mapping != nil else { return nil }
        guard let node = node(field.name) else {
            switch field.presence {
            case .required:
                let written = mapping!.entry(field.name)
                context.log.error(
                    .missingField, "missing required field '\(field.name)' in \(spec.name)",
                    at: written?.key.location ?? location, hint: field.doc)
                return nil
            case .optional:
                return nil
            case .defaulted(let value, let shown):
                members.append(ConfigValue.Member(key: field.name, value: shown, isDefault: true))
                return value
            }
        }
        guard let decoded = field.value.decode(node, &context) else { return nil }
        members.append(ConfigValue.Member(key: field.name, value: decoded.shown, isDefault: false))
        return decoded.value
    }

    /// Replaces what `explain` shows for a field (the stages, once their ids are resolved).
    func replace(_ key: String, with value: ConfigValue) {
        if let index = members.firstIndex(where: { $0.key == key }) { members[index].value = value }
    }

    /// Adds a derived member to what `explain` shows (a generated id, a default computed from
    /// other fields).
    func show(_ key: String, _ value: ConfigValue, isDefault: Bool = true) {
        members.append(ConfigValue.Member(key: key, value: value, isDefault: isDefault))
    }
}
