import Yams

/// Expressions and templates in the file, with errors placed at their column in the file.
extension ValueSpec where Value == EventExpression {
    /// An expression; its certain type mistakes are errors too.
    static var expression: ValueSpec<EventExpression> { expression(asCondition: false) }

    /// An expression that must give a bool: filter and route conditions.
    static var condition: ValueSpec<EventExpression> { expression(asCondition: true) }

    private static func expression(asCondition: Bool) -> ValueSpec<EventExpression> {
        ValueSpec(schema: .object([
            ("type", .string("string")),
            ("$comment", .string(asCondition
                ? "an Outflow condition, such as payload.amount > 100 and headers.type in ['a', 'b']"
                : "an Outflow expression, such as lower(headers.type) or payload.customer_id")),
        ])) { node, context in
            guard let scalar = scalar(node, expected: "an expression", &context) else { return nil }
            let expression: EventExpression
            do throws(ExpressionSyntaxError) {
                expression = try EventExpression.parse(scalar.text)
            } catch {
                ExpressionPositions.report(error, in: scalar, offset: 0, &context)
                return nil
            }
            let typeErrors = expression.typeErrors(asCondition: asCondition)
            for error in typeErrors { ExpressionPositions.report(error, in: scalar, offset: 0, &context) }
            return typeErrors.isEmpty ? Decoded(value: expression, shown: shown(scalar, .string)) : nil
        }
    }
}

extension ValueSpec where Value == EventTemplate {
    /// A topic template: literal text with `${expression}` parts; the literal text must be
    /// valid in a topic name, and a template without parts must be a valid topic name.
    static var topicTemplate: ValueSpec<EventTemplate> {
        ValueSpec(schema: .object([
            ("type", .string("string")),
            ("$comment", .string("a topic name with ${expression} parts, such as outbox.event.${aggregatetype}")),
        ])) { node, context in
            guard let scalar = scalar(node, expected: "a topic template", &context) else { return nil }
            let template: EventTemplate
            do throws(ExpressionSyntaxError) {
                template = try EventTemplate.parse(scalar.text)
            } catch {
                ExpressionPositions.report(error, in: scalar, offset: 0, &context)
                return nil
            }
            var typeErrorCount = 0
            for (offset, expression) in template.expressionsWithOffsets {
                for error in expression.typeErrors() {
                    ExpressionPositions.report(error, in: scalar, offset: offset, &context)
                    typeErrorCount += 1
                }
            }
            if typeErrorCount > 0 { return nil }
            if let constant = template.constant {
                if let problem = TopicNames.problem(constant, what: "topic name") {
                    context.log.error(.invalidTopicName, scalar.isSecret ? "the interpolated value is not a valid topic name" : problem.message,
                                      at: scalar.location, length: scalar.shown.unicodeScalars.count, hint: problem.hint)
                    return nil
                }
            } else {
                var offset = 0
                for part in template.parts {
                    switch part {
                    case .literal(let text):
                        if let bad = text.unicodeScalars.firstIndex(where: { !TopicNames.isValidCharacter($0) }) {
                            let at = offset + text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: bad)
                            let location = ExpressionPositions.location(in: scalar, offset: at, &context) ?? scalar.location
                            context.log.error(
                                .invalidTopicName, "invalid character '\(text.unicodeScalars[bad])' in topic template",
                                at: location, hint: "topic names use only letters, digits, '.', '_' and '-'")
                            return nil
                        }
                        offset += text.unicodeScalars.count
                    case .expression(let expression):
                        offset += expression.source.unicodeScalars.count + 3
                    }
                }
            }
            return Decoded(value: template, shown: shown(scalar, .string))
        }
    }
}

/// Where a field is written to by `map`: a field path, or `__topic` / `__key`.
public enum FieldTarget: Sendable, Hashable, CustomStringConvertible {
    case field(FieldPath)
    case metadata(MetadataField)

    public var description: String {
        switch self {
        case .field(let path): path.description
        case .metadata(let field): field.rawValue
        }
    }

    static let writableMetadata: [MetadataField] = [.topic, .key]

    /// Parses a target from text: a path such as `payload.total`, or a writable metadata field.
    static func parse(_ text: String) -> (target: FieldTarget?, problem: (message: String, hint: String?)?) {
        guard let expression = try? EventExpression.parse(text) else {
            return (nil, ("'\(text)' is not a field path", "write a path such as payload.total or headers['content-type']"))
        }
        switch expression.root.kind {
        case .field(let path): return (.field(path), nil)
        case .metadata(let field) where writableMetadata.contains(field): return (.metadata(field), nil)
        case .metadata(let field):
            return (nil, ("\(field.rawValue) cannot be written", "only \(writableMetadata.map(\.rawValue).joined(separator: " and ")) can be set"))
        default:
            return (nil, ("'\(text)' is not a field path", "write a path such as payload.total or headers['content-type']"))
        }
    }
}

extension ValueSpec where Value == FieldTarget {
    static var fieldTarget: ValueSpec<FieldTarget> {
        text(
            schema: .object([("type", .string("string")), ("$comment", .string("a field path, __topic or __key"))]),
            expected: "a field path",
            validate: { FieldTarget.parse($0).problem },
            parse: { FieldTarget.parse($0).target })
    }
}

enum ExpressionPositions {
    static func report(_ error: ExpressionSyntaxError, in scalar: ConfigScalar, offset: Int, _ context: inout DecodingContext) {
        report(error.message, kind: error.code.rawValue, range: error.range, hint: error.hint, in: scalar, offset: offset, &context)
    }

    static func report(_ error: ExpressionTypeError, in scalar: ConfigScalar, offset: Int, _ context: inout DecodingContext) {
        report(error.message, kind: "type-mismatch", range: error.range, hint: error.hint, in: scalar, offset: offset, &context)
    }

    /// Reports a problem at `range` of an expression that starts `offset` scalars into the
    /// scalar's value.
    private static func report(
        _ message: String, kind: String, range: Range<Int>, hint: String?, in scalar: ConfigScalar, offset: Int,
        _ context: inout DecodingContext
    ) {
        let at = offset + range.lowerBound
        if scalar.isSecret {
            // The message may quote the text, and the text holds an interpolated secret.
            context.log.error(
                .expression, "invalid expression after interpolation (\(kind) at column \(at + 1) of the value)", at: scalar.location)
            return
        }
        if let location = location(in: scalar, offset: at, &context) {
            context.log.error(.expression, message, at: location, length: range.count, hint: hint)
        } else {
            context.log.error(.expression, "\(message) (column \(at + 1) of the expression)", at: scalar.location, hint: hint)
        }
    }

    /// The file position of the scalar's `offset`-th character, for scalars written on one
    /// line; nil for block scalars and multi-line ones.
    static func location(in scalar: ConfigScalar, offset: Int, _ context: inout DecodingContext) -> FileLocation? {
        guard !scalar.isSecret, !scalar.text.contains(where: \.isNewline) else { return nil }
        let start = scalar.location
        switch scalar.style {
        case .plain:
            return start.shifted(by: offset)
        case .singleQuoted, .doubleQuoted:
            guard context.lines.indices.contains(start.line - 1) else { return nil }
            let raw = Array(context.lines[start.line - 1].unicodeScalars)
            var index = start.column  // just after the opening quote (column is 1-based)
            for _ in 0..<offset {
                guard index < raw.count else { return nil }
                if scalar.style == .singleQuoted {
                    index += raw[index] == "'" ? 2 : 1
                } else if raw[index] == "\\", index + 1 < raw.count {
                    switch raw[index + 1] {
                    case "x": index += 4
                    case "u": index += 6
                    case "U": index += 10
                    default: index += 2
                    }
                } else {
                    index += 1
                }
            }
            return FileLocation(file: start.file, line: start.line, column: index + 1)
        default:
            return nil
        }
    }
}
