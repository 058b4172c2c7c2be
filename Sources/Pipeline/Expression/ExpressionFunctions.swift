import Foundation

/// The built-in functions. Each takes `null` to `null` except `concat` (which skips nulls,
/// as Postgres' concat does) and `coalesce`.
enum ExpressionFunctions {
    static func call(
        _ function: ExpressionFunction, _ arguments: [ExpressionNode], node: ExpressionNode, on event: some EventView
    ) throws(ExpressionEvaluationError) -> EventValue {
        if function == .coalesce {
            // Lazily: later arguments are evaluated only when needed.
            for argument in arguments {
                let value = try ExpressionEvaluator.evaluate(argument, on: event)
                if !value.isNull { return value }
            }
            return .null
        }
        var values: [EventValue] = []
        values.reserveCapacity(arguments.count)
        for argument in arguments { values.append(try ExpressionEvaluator.evaluate(argument, on: event)) }

        if function == .concat {
            var result = ""
            for value in values where !value.isNull { result += text(of: value) }
            return .string(result)
        }
        if values.contains(where: \.isNull) { return .null }

        func string(_ position: Int) throws(ExpressionEvaluationError) -> String {
            guard case .string(let value) = values[position] else {
                throw ExpressionEvaluator.mismatch(
                    "\(function.rawValue) needs a string as argument \(position + 1), got \(values[position].typeName)",
                    arguments[position])
            }
            return value
        }
        func integer(_ position: Int) throws(ExpressionEvaluationError) -> Int64 {
            guard case .int(let value) = values[position] else {
                throw ExpressionEvaluator.mismatch(
                    "\(function.rawValue) needs an int as argument \(position + 1), got \(values[position].typeName)",
                    arguments[position])
            }
            return value
        }

        switch function {
        case .lower: return .string(try string(0).lowercased())
        case .upper: return .string(try string(0).uppercased())
        case .contains:
            if case .array(let items) = values[0] {
                return .bool(items.contains { ExpressionEvaluator.equal($0, values[1]) })
            }
            return .bool(try string(0).contains(try string(1)))
        case .startsWith: return .bool(try string(0).hasPrefix(try string(1)))
        case .endsWith: return .bool(try string(0).hasSuffix(try string(1)))
        case .length:
            switch values[0] {
            case .string(let value): return .int(Int64(value.count))
            case .array(let items): return .int(Int64(items.count))
            case .object(let members): return .int(Int64(members.count))
            case let other:
                throw ExpressionEvaluator.mismatch("length needs a string, array or object, got \(other.typeName)", arguments[0])
            }
        case .substring:
            // Characters, 0-based; out-of-range bounds are clamped, as in most SQL dialects.
            let value = try string(0)
            let start = try integer(1)
            let count = values.count > 2 ? try integer(2) : Int64(value.count)
            guard start >= 0, count >= 0 else {
                throw ExpressionEvaluationError(
                    code: .invalidArgument, message: "substring needs a start and length ≥ 0", range: node.range)
            }
            let characters = Array(value)
            let lower = Int(min(start, Int64(characters.count)))
            let upper = Int(min(Int64(characters.count), Int64(lower) + min(count, Int64(characters.count))))
            return .string(String(characters[lower..<upper]))
        case .string:
            return .string(text(of: values[0]))
        case .int:
            switch values[0] {
            case .int(let value): return .int(value)
            case .bool(let value): return .int(value ? 1 : 0)
            case .decimal(let value):
                // Toward zero, as a cast to integer does in most languages.
                var truncated = Decimal(), source = value
                NSDecimalRound(&truncated, &source, 0, value < 0 ? .up : .down)
                guard let result = Int64(exactly: NSDecimalNumber(decimal: truncated).int64Value),
                      Decimal(result) == truncated else {
                    throw ExpressionEvaluationError(code: .overflow, message: "\(value) does not fit an int", range: node.range)
                }
                return .int(result)
            case .string(let value):
                guard let result = Int64(value.trimmingCharacters(in: .whitespaces)) else {
                    throw ExpressionEvaluationError(
                        code: .invalidArgument, message: "int: '\(value)' is not an integer", range: node.range)
                }
                return .int(result)
            case let other:
                throw ExpressionEvaluator.mismatch("int needs a number, string or bool, got \(other.typeName)", arguments[0])
            }
        case .coalesce, .concat:
            preconditionFailure("handled above")
        }
    }

    /// The text form `string()` and `concat` use: strings as they are, JSON for the rest.
    static func text(of value: EventValue) -> String {
        if case .string(let text) = value { return text }
        return value.jsonText
    }
}
