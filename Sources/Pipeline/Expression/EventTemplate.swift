/// Text with `${expression}` parts, such as the topic template `outbox.event.${aggregatetype}`.
///
/// `${env:…}` and `${file:…}` are not template parts: the loader resolves those first, when
/// it reads the file, so by the time a template is parsed only expressions remain.
public struct EventTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case expression(EventExpression)
    }

    public let source: String
    public let parts: [Part]

    /// The text when the template has no expression parts.
    public var constant: String? {
        if parts.isEmpty { return "" }
        if parts.count == 1, case .literal(let text) = parts[0] { return text }
        return nil
    }

    public var description: String { source }

    /// Some expression part reads the commit position (see `EventExpression.readsCommitPosition`).
    public var readsCommitPosition: Bool {
        parts.contains { part in
            if case .expression(let expression) = part { return expression.readsCommitPosition }
            return false
        }
    }

    /// Each expression part with the offset of its text in the template (after `${`).
    public var expressionsWithOffsets: [(offset: Int, expression: EventExpression)] {
        var result: [(Int, EventExpression)] = []
        var offset = 0
        for part in parts {
            switch part {
            case .literal(let text):
                offset += text.unicodeScalars.count
            case .expression(let expression):
                result.append((offset + 2, expression))
                offset += expression.source.unicodeScalars.count + 3
            }
        }
        return result
    }

    /// Parses a template; a syntax error's range is in the template's own scalars.
    public static func parse(_ source: String) throws(ExpressionSyntaxError) -> EventTemplate {
        let scalars = Array(source.unicodeScalars)
        var parts: [Part] = []
        var literal = String.UnicodeScalarView()
        var position = 0
        while position < scalars.count {
            guard scalars[position] == "$", position + 1 < scalars.count, scalars[position + 1] == "{" else {
                literal.append(scalars[position])
                position += 1
                continue
            }
            // The part ends at the first '}' outside a quoted string.
            var end = position + 2
            var quote: Unicode.Scalar?
            while end < scalars.count {
                let scalar = scalars[end]
                if let open = quote {
                    if scalar == "\\" { end += 1 } else if scalar == open { quote = nil }
                } else if scalar == "'" || scalar == "\"" {
                    quote = scalar
                } else if scalar == "}" {
                    break
                }
                end += 1
            }
            guard end < scalars.count else {
                throw ExpressionSyntaxError(
                    code: .unexpectedToken, message: "'${' without a closing '}'", range: position..<scalars.count,
                    hint: nil)
            }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars[(position + 2)..<end])
            let expression: EventExpression
            do {
                expression = try EventExpression.parse(String(text))
            } catch {
                var shifted = error
                shifted.range = (error.range.lowerBound + position + 2)..<(error.range.upperBound + position + 2)
                throw shifted
            }
            if !literal.isEmpty { parts.append(.literal(String(literal))) }
            literal = String.UnicodeScalarView()
            parts.append(.expression(expression))
            position = end + 1
        }
        if !literal.isEmpty { parts.append(.literal(String(literal))) }
        return EventTemplate(source: source, parts: parts)
    }

    /// The template's text for one event. A part that is null is an error: a topic named
    /// `outbox.event.` is never what was meant.
    public func render(on event: some EventView) throws(ExpressionEvaluationError) -> String {
        var output = ""
        for part in parts {
            switch part {
            case .literal(let text):
                output += text
            case .expression(let expression):
                let value = try expression.evaluate(on: event)
                if value.isNull {
                    throw ExpressionEvaluationError(
                        code: .invalidArgument, message: "'\(expression.source)' is null", range: expression.root.range)
                }
                output += ExpressionFunctions.text(of: value)
            }
        }
        return output
    }
}
