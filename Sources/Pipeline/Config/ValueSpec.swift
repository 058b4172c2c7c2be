import Foundation
import PostgresSource
import Yams

/// How one kind of value is decoded from the file and described in the JSON Schema.
struct ValueSpec<Value: Sendable>: Sendable {
    var schema: JSONDocument
    var decode: @Sendable (ConfigNode, inout DecodingContext) -> Decoded<Value>?
}

extension ValueSpec {
    /// The scalar of a node, or an error naming what was expected.
    static func scalar(_ node: ConfigNode, expected: String, _ context: inout DecodingContext) -> ConfigScalar? {
        guard case .scalar(let scalar) = node, scalar.kind != .null else {
            context.log.error(.wrongType, "expected \(expected), found \(node.kindName)", at: node.location)
            return nil
        }
        if scalar.interpolationFailed { return nil }
        if scalar.isSecret { context.secrets.insert(scalar.text) }
        return scalar
    }

    static func shown(_ scalar: ConfigScalar, _ kind: ConfigValue.ScalarKind) -> ConfigValue {
        .scalar(scalar.shown, kind: kind, secret: scalar.isSecret)
    }

    /// A number as `explain` shows it: in canonical digits (YAML's 1_000 or .5 are not JSON),
    /// or the reference when it is secret.
    static func number(_ canonical: String, _ scalar: ConfigScalar) -> ConfigValue {
        scalar.isSecret ? shown(scalar, .string) : .number(canonical)
    }

    /// A scalar's text checked by `validate`, which returns an error message and hint, or nil.
    static func text(
        schema: JSONDocument = .object([("type", .string("string"))]),
        expected: String = "a string",
        code: PipelineDiagnostic.Code = .invalidValue,
        validate: @escaping @Sendable (String) -> (message: String, hint: String?)? = { _ in nil },
        parse: @escaping @Sendable (String) -> Value?
    ) -> ValueSpec<Value> {
        ValueSpec(schema: schema) { node, context in
            guard let scalar = scalar(node, expected: expected, &context) else { return nil }
            if let problem = validate(scalar.text) {
                // A secret's text stays out of the message: say what is wrong, not what it is.
                context.log.error(
                    code, scalar.isSecret ? "the interpolated value is not valid here: \(expected) expected" : problem.message,
                    at: scalar.location, length: scalar.isSecret ? 1 : scalar.shown.unicodeScalars.count,
                    hint: scalar.isSecret ? nil : problem.hint)
                return nil
            }
            guard let value = parse(scalar.text) else {
                context.log.error(code, "invalid value", at: scalar.location)
                return nil
            }
            return Decoded(value: value, shown: shown(scalar, .string))
        }
    }
}

extension ValueSpec where Value == String {
    static var string: ValueSpec<String> {
        text(validate: { $0.isEmpty ? ("empty string", nil) : nil }, parse: { $0 })
    }

    /// A Kafka topic name: `[a-zA-Z0-9._-]`, at most 249 characters, not `.` or `..`.
    static var topicName: ValueSpec<String> {
        text(
            schema: .object([("type", .string("string")), ("pattern", .string(TopicNames.pattern)), ("maxLength", .int(249))]),
            expected: "a topic name", code: .invalidTopicName,
            validate: { TopicNames.problem($0, what: "topic name") }, parse: { $0 })
    }

    /// A Postgres identifier for a slot or publication: lower-case letters, digits, `_`, ≤ 63.
    static var postgresName: ValueSpec<String> {
        text(
            schema: .object([("type", .string("string")), ("pattern", .string("^[a-z_][a-z0-9_]{0,62}$"))]),
            expected: "a name", code: .invalidName, validate: PostgresNames.problem, parse: { $0 })
    }
}

extension ValueSpec where Value == SecretString {
    /// A string that keeps whether it came from interpolation, and its redacted form.
    static var secretString: ValueSpec<SecretString> {
        ValueSpec(schema: .object([("type", .string("string"))])) { node, context in
            guard let scalar = scalar(node, expected: "a string", &context) else { return nil }
            guard !scalar.text.isEmpty else {
                context.log.error(.invalidValue, scalar.isSecret ? "the interpolated value is empty" : "empty string", at: scalar.location)
                return nil
            }
            return Decoded(
                value: SecretString(value: scalar.text, isSecret: scalar.isSecret, redacted: scalar.redacted),
                shown: shown(scalar, .string))
        }
    }
}

extension ValueSpec where Value == Int {
    static func integer(_ range: ClosedRange<Int>) -> ValueSpec<Int> {
        var schema: [(String, JSONDocument)] = [("type", .string("integer")), ("minimum", .int(range.lowerBound))]
        if range.upperBound != Int.max { schema.append(("maximum", .int(range.upperBound))) }
        return ValueSpec(schema: .object(schema)) { node, context in
            guard let scalar = scalar(node, expected: "an integer", &context) else { return nil }
            // An interpolated value is a string by nature; its text must still be an integer.
            guard scalar.kind == .int || (scalar.kind == .string && scalar.isSecret) else {
                context.log.error(
                    .wrongType, "expected an integer, found \(node.kindName)", at: scalar.location,
                    hint: scalar.style == .doubleQuoted || scalar.style == .singleQuoted ? "remove the quotes" : nil)
                return nil
            }
            // YAML 1.1 allows 1_000 (taken) and 0x1F, 0o17, 1:30 (too surprising to take).
            guard let value = Int(scalar.kind == .int ? scalar.text.replacingOccurrences(of: "_", with: "") : scalar.text) else {
                context.log.error(
                    .wrongType, scalar.isSecret ? "the interpolated value is not an integer" : "'\(scalar.text)' is not a decimal integer",
                    at: scalar.location, hint: scalar.isSecret ? nil : "write it in decimal digits")
                return nil
            }
            guard range.contains(value) else {
                let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
                context.log.error(.invalidValue, "\(scalar.isSecret ? "the interpolated value" : String(value)) is out of range: must be \(bounds)",
                                  at: scalar.location)
                return nil
            }
            return Decoded(value: value, shown: number(String(value), scalar))
        }
    }
}

extension ValueSpec where Value == Double {
    /// A number strictly between `lower` and `upper`.
    static func number(above lower: Double, below upper: Double) -> ValueSpec<Double> {
        ValueSpec(schema: .object([
            ("type", .string("number")), ("exclusiveMinimum", .number("\(lower)")), ("exclusiveMaximum", .number("\(upper)")),
        ])) { node, context in
            guard let scalar = scalar(node, expected: "a number", &context) else { return nil }
            guard scalar.kind == .int || scalar.kind == .float || scalar.isSecret, let value = Double(scalar.text) else {
                context.log.error(.wrongType, "expected a number, found \(node.kindName)", at: scalar.location)
                return nil
            }
            guard value > lower && value < upper else {
                context.log.error(.invalidValue, "\(scalar.shown) is out of range: must be above \(lower) and below \(upper)", at: scalar.location)
                return nil
            }
            return Decoded(value: value, shown: number(String(value), scalar))
        }
    }
}

extension ValueSpec where Value == Bool {
    static var boolean: ValueSpec<Bool> {
        ValueSpec(schema: .object([("type", .string("boolean"))])) { node, context in
            guard let scalar = scalar(node, expected: "true or false", &context) else { return nil }
            switch scalar.text.lowercased() {
            case "true": return Decoded(value: true, shown: shown(scalar, .bool))
            case "false": return Decoded(value: false, shown: shown(scalar, .bool))
            default:
                context.log.error(.wrongType, "expected true or false, found \(node.kindName)", at: scalar.location,
                                  hint: "write true or false")
                return nil
            }
        }
    }
}

extension ValueSpec where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    static var enumeration: ValueSpec<Value> {
        let names = Value.allCases.map(\.rawValue)
        return ValueSpec(schema: .object([("enum", .array(names.map(JSONDocument.string)))])) { node, context in
            guard let scalar = scalar(node, expected: "one of \(names.joined(separator: ", "))", &context) else { return nil }
            guard let value = Value(rawValue: scalar.text) else {
                context.log.error(
                    .invalidValue, scalar.isSecret ? "the interpolated value is not one of the allowed values" : "invalid value '\(scalar.text)'",
                    at: scalar.location, length: scalar.shown.unicodeScalars.count,
                    hint: (scalar.isSecret ? nil : Suggestions.didYouMean(scalar.text, among: names))
                        ?? "expected one of \(names.joined(separator: ", "))")
                return nil
            }
            return Decoded(value: value, shown: shown(scalar, .string))
        }
    }
}

extension ValueSpec where Value == ConfigDuration {
    static var duration: ValueSpec<ConfigDuration> {
        ValueSpec(schema: .object([("type", .string("string")), ("pattern", .string(DurationsAndSizes.durationPattern))])) { node, context in
            guard let scalar = scalar(node, expected: "a duration", &context) else { return nil }
            guard let value = ConfigDuration(scalar.text) else {
                let bare = Int(scalar.text) != nil
                context.log.error(
                    .invalidDuration, scalar.isSecret ? "the interpolated value is not a duration" : "invalid duration '\(scalar.text)'",
                    at: scalar.location, length: scalar.shown.unicodeScalars.count,
                    hint: bare ? "add a unit: \(scalar.text)s or \(scalar.text)ms" : "write a number and a unit (ms, s, m, h, d), as in 500ms, 10s, 24h, 7d, 1h30m")
                return nil
            }
            return Decoded(value: value, shown: shown(scalar, .string))
        }
    }
}

extension ValueSpec where Value == ByteSize {
    static var byteSize: ValueSpec<ByteSize> {
        ValueSpec(schema: .object([("oneOf", .array([
            .object([("type", .string("integer")), ("minimum", .int(0))]),
            .object([("type", .string("string")), ("pattern", .string(DurationsAndSizes.sizePattern))]),
        ]))])) { node, context in
            guard let scalar = scalar(node, expected: "a size", &context) else { return nil }
            // A YAML integer may be written 1_048_576.
            guard let value = ByteSize(scalar.kind == .int ? scalar.text.replacingOccurrences(of: "_", with: "") : scalar.text) else {
                context.log.error(
                    .invalidSize, scalar.isSecret ? "the interpolated value is not a size" : "invalid size '\(scalar.text)'",
                    at: scalar.location, length: scalar.shown.unicodeScalars.count,
                    hint: "write bytes, or a number and a unit (B, KB, MB, GB, KiB, MiB, GiB), as in 64MiB")
                return nil
            }
            return Decoded(value: value, shown: scalar.kind == .int ? number(String(value.bytes), scalar) : shown(scalar, .string))
        }
    }
}

extension ValueSpec where Value == TableName {
    static var tableName: ValueSpec<TableName> {
        text(
            schema: .object([("type", .string("string")), ("pattern", .string("^[^.]+(\\.[^.]+)?$"))]),
            expected: "a table name",
            validate: { TableName($0) == nil ? ("invalid table name '\($0)'", "write schema.table or table (schema public)") : nil },
            parse: TableName.init)
    }
}

extension ValueSpec {
    /// A field the loader decodes itself because it depends on other fields; the spec only
    /// describes it (for unknown-key checks and the schema).
    static func decodedByHand(_ schema: JSONDocument) -> ValueSpec<Value> {
        ValueSpec(schema: schema) { _, _ in nil }
    }

    static func list<Element>(of element: ValueSpec<Element>, minimum: Int = 0) -> ValueSpec<[Element]> where Value == [Element] {
        var schema: [(String, JSONDocument)] = [("type", .string("array")), ("items", element.schema)]
        if minimum > 0 { schema.append(("minItems", .int(minimum))) }
        return ValueSpec(schema: .object(schema)) { node, context in
            guard case .sequence(let sequence) = node else {
                context.log.error(.wrongType, "expected a list, found \(node.kindName)", at: node.location,
                                  hint: node.kindName.hasPrefix("a string") ? "write a list: [value] or one '- value' per line" : nil)
                return nil
            }
            guard sequence.items.count >= minimum else {
                context.log.error(.invalidValue, "the list needs at least \(minimum) item\(minimum == 1 ? "" : "s")", at: node.location)
                return nil
            }
            var values: [Element] = [], shown: [ConfigValue] = [], failed = false
            for item in sequence.items {
                if let decoded = element.decode(item, &context) {
                    values.append(decoded.value)
                    shown.append(decoded.shown)
                } else {
                    failed = true
                }
            }
            return failed ? nil : Decoded(value: values, shown: .list(shown))
        }
    }

    /// A mapping with keys chosen by the user (`set: {payload.total: …}`), in file order.
    static func entries<Element>(
        keyedBy keyDoc: String, of element: ValueSpec<Element>,
        validateKey: @escaping @Sendable (String) -> (message: String, hint: String?)? = { _ in nil }
    ) -> ValueSpec<[(key: String, value: Element)]> where Value == [(key: String, value: Element)] {
        ValueSpec(schema: .object([
            ("type", .string("object")), ("propertyNames", .object([("description", .string(keyDoc))])),
            ("additionalProperties", element.schema),
        ])) { node, context in
            guard case .mapping(let mapping) = node else {
                context.log.error(.wrongType, "expected a mapping, found \(node.kindName)", at: node.location)
                return nil
            }
            var values: [(key: String, value: Element)] = [], shown: [ConfigValue.Member] = [], failed = false
            for entry in mapping.entries {
                if let problem = validateKey(entry.key.text) {
                    context.log.error(.invalidValue, problem.message, at: entry.key.location,
                                      length: entry.key.text.unicodeScalars.count, hint: problem.hint)
                    failed = true
                    continue
                }
                if let decoded = element.decode(entry.value, &context) {
                    values.append((entry.key.text, decoded.value))
                    shown.append(ConfigValue.Member(key: entry.key.text, value: decoded.shown, isDefault: false))
                } else {
                    failed = true
                }
            }
            return failed ? nil : Decoded(value: values, shown: .object(shown))
        }
    }

    /// A nested object: `build` reads its fields from the reader and returns nil when a
    /// required one is missing or invalid (already reported).
    static func object(_ spec: ObjectSpec, build: @escaping @Sendable (ObjectReader, inout DecodingContext) -> Value?) -> ValueSpec<Value> {
        ValueSpec(schema: spec.schema) { node, context in
            let reader = ObjectReader(node, spec: spec, context: &context)
            guard reader.isMapping, let value = build(reader, &context) else { return nil }
            return Decoded(value: value, shown: reader.shown)
        }
    }
}

/// Kafka's rules for topic names.
enum TopicNames {
    static let pattern = "^[a-zA-Z0-9._-]+$"
    static let maximumLength = 249

    static func isValidCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "_" || scalar == "-")
    }

    static func problem(_ name: String, what: String) -> (message: String, hint: String?)? {
        if name.isEmpty { return ("empty \(what)", nil) }
        if name == "." || name == ".." { return ("'\(name)' is not a valid \(what)", "Kafka reserves '.' and '..'") }
        if name.count > maximumLength {
            return ("\(what) is \(name.count) characters long; the limit is \(maximumLength)", nil)
        }
        if let bad = name.unicodeScalars.first(where: { !isValidCharacter($0) }) {
            return ("invalid character '\(bad)' in \(what) '\(name)'", "topic names use only letters, digits, '.', '_' and '-'")
        }
        return nil
    }
}

enum PostgresNames {
    @Sendable static func problem(_ name: String) -> (message: String, hint: String?)? {
        let valid = name.unicodeScalars.first.map { $0 == "_" || ("a"..."z").contains($0) } ?? false
            && name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        if !valid { return ("invalid name '\(name)'", "slot and publication names use lower-case letters, digits and '_'") }
        if name.utf8.count > 63 { return ("name '\(name)' is longer than 63 bytes", "Postgres truncates longer names") }
        return nil
    }
}
