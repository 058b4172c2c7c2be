import Foundation

extension EventExpression {
    /// Evaluates the expression against one event. A missing field is `null`; `==` and `!=`
    /// compare any two values (`null == null` is true, values of different types are
    /// unequal, ints and decimals compare by value); ordering, arithmetic and most functions
    /// give `null` when an operand is `null`; `and`/`or`/`not` follow SQL's three-valued logic.
    /// A type mismatch, a division by zero or an overflow throws, never traps.
    public func evaluate(on event: some EventView) throws(ExpressionEvaluationError) -> EventValue {
        try ExpressionEvaluator.evaluate(root, on: event)
    }

    /// Evaluates as a condition: true only for `true`; `false` and `null` are false, any other
    /// type is an error (a filter on a non-boolean is a mistake worth reporting).
    public func isSatisfied(by event: some EventView) throws(ExpressionEvaluationError) -> Bool {
        switch try evaluate(on: event) {
        case .bool(let value): return value
        case .null: return false
        case let other:
            throw ExpressionEvaluationError(
                code: .typeMismatch, message: "condition gave \(other.typeName), not bool", range: root.range)
        }
    }
}

enum ExpressionEvaluator {
    static func evaluate(_ node: ExpressionNode, on event: some EventView) throws(ExpressionEvaluationError) -> EventValue {
        switch node.kind {
        case .literal(let value):
            return value
        case .field(let path):
            return event.value(at: path) ?? .null
        case .metadata(let field):
            return event.metadata(field)
        case .list(let items):
            var values: [EventValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try evaluate(item, on: event)) }
            return .array(values)
        case .unary(.not, let operand):
            switch try evaluate(operand, on: event) {
            case .bool(let value): return .bool(!value)
            case .null: return .null
            case let other: throw mismatch("'not' needs a bool, got \(other.typeName)", operand)
            }
        case .unary(.negate, let operand):
            switch try evaluate(operand, on: event) {
            case .int(let value):
                let (negated, overflow) = Int64(0).subtractingReportingOverflow(value)
                if overflow { throw ExpressionEvaluationError(code: .overflow, message: "-\(value) overflows int", range: node.range) }
                return .int(negated)
            case .decimal(let value): return .decimal(-value)
            case .null: return .null
            case let other: throw mismatch("'-' needs a number, got \(other.typeName)", operand)
            }
        case .binary(.and, let left, let right):
            return try logical(isAnd: true, left, right, on: event)
        case .binary(.or, let left, let right):
            return try logical(isAnd: false, left, right, on: event)
        case .binary(let op, let left, let right):
            let lhs = try evaluate(left, on: event), rhs = try evaluate(right, on: event)
            return try binary(op, lhs, rhs, node: node, left: left, right: right)
        case .isNull(let operand, let negated):
            return .bool(try evaluate(operand, on: event).isNull != negated)
        case .membership(let value, let list, let negated):
            let needle = try evaluate(value, on: event)
            switch try evaluate(list, on: event) {
            case .array(let items):
                return .bool(items.contains { equal(needle, $0) } != negated)
            case .null:
                return .null
            case let other:
                throw mismatch("'in' needs an array on its right, got \(other.typeName)", list)
            }
        case .call(let function, let arguments):
            return try ExpressionFunctions.call(function, arguments, node: node, on: event)
        }
    }

    static func mismatch(_ message: String, _ node: ExpressionNode) -> ExpressionEvaluationError {
        ExpressionEvaluationError(code: .typeMismatch, message: message, range: node.range)
    }

    private static func logical(isAnd: Bool, _ left: ExpressionNode, _ right: ExpressionNode, on event: some EventView) throws(ExpressionEvaluationError) -> EventValue {
        let name = isAnd ? "and" : "or"
        func truth(_ node: ExpressionNode) throws(ExpressionEvaluationError) -> Bool? {
            switch try evaluate(node, on: event) {
            case .bool(let value): return value
            case .null: return nil
            case let other: throw mismatch("'\(name)' needs bools, got \(other.typeName)", node)
            }
        }
        // The deciding value (false for and, true for or) wins even over null.
        let lhs = try truth(left)
        if lhs == !isAnd { return .bool(!isAnd) }
        let rhs = try truth(right)
        if rhs == !isAnd { return .bool(!isAnd) }
        if lhs == nil || rhs == nil { return .null }
        return .bool(isAnd)
    }

    /// Structural equality where ints and decimals compare by numeric value.
    static func equal(_ lhs: EventValue, _ rhs: EventValue) -> Bool {
        switch (lhs, rhs) {
        case (.int(let a), .decimal(let b)): return Decimal(a) == b
        case (.decimal(let a), .int(let b)): return a == Decimal(b)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { equal(value, $0) } ?? false }
        default: return lhs == rhs
        }
    }

    private static func binary(
        _ op: BinaryOperator, _ lhs: EventValue, _ rhs: EventValue,
        node: ExpressionNode, left: ExpressionNode, right: ExpressionNode
    ) throws(ExpressionEvaluationError) -> EventValue {
        switch op {
        case .equal: return .bool(equal(lhs, rhs))
        case .notEqual: return .bool(!equal(lhs, rhs))
        case .and, .or: preconditionFailure("handled with short-circuit evaluation")
        default: break
        }
        if lhs.isNull || rhs.isNull { return .null }
        switch op {
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order: ComparisonResult
            switch (lhs, rhs) {
            case (.string(let a), .string(let b)):
                order = a == b ? .orderedSame : (a < b ? .orderedAscending : .orderedDescending)
            default:
                guard let a = decimal(lhs), let b = decimal(rhs) else {
                    throw ExpressionEvaluationError(
                        code: .typeMismatch,
                        message: "cannot compare \(lhs.typeName) with \(rhs.typeName) using '\(op.rawValue)'",
                        range: node.range)
                }
                order = a == b ? .orderedSame : (a < b ? .orderedAscending : .orderedDescending)
            }
            switch op {
            case .less: return .bool(order == .orderedAscending)
            case .lessOrEqual: return .bool(order != .orderedDescending)
            case .greater: return .bool(order == .orderedDescending)
            default: return .bool(order != .orderedAscending)
            }
        default:
            return try arithmetic(op, lhs, rhs, node: node, left: left, right: right)
        }
    }

    private static func decimal(_ value: EventValue) -> Decimal? {
        switch value {
        case .int(let number): Decimal(number)
        case .decimal(let number): number
        default: nil
        }
    }

    private static func arithmetic(
        _ op: BinaryOperator, _ lhs: EventValue, _ rhs: EventValue,
        node: ExpressionNode, left: ExpressionNode, right: ExpressionNode
    ) throws(ExpressionEvaluationError) -> EventValue {
        guard decimal(lhs) != nil else {
            throw mismatch(
                "'\(op.rawValue)' needs numbers, got \(lhs.typeName)"
                    + (op == .add && lhs.typeName == "string" ? " (join strings with concat())" : ""), left)
        }
        guard let divisor = decimal(rhs) else {
            throw mismatch("'\(op.rawValue)' needs numbers, got \(rhs.typeName)", right)
        }
        if (op == .divide || op == .remainder) && divisor == 0 {
            throw ExpressionEvaluationError(code: .divisionByZero, message: "division by zero", range: node.range)
        }
        let overflow = ExpressionEvaluationError(
            code: .overflow, message: "'\(op.rawValue)' overflows", range: node.range)
        if case .int(let a) = lhs, case .int(let b) = rhs {
            let result: (partialValue: Int64, overflow: Bool)
            switch op {
            case .add: result = a.addingReportingOverflow(b)
            case .subtract: result = a.subtractingReportingOverflow(b)
            case .multiply: result = a.multipliedReportingOverflow(by: b)
            case .remainder: result = a.remainderReportingOverflow(dividingBy: b)
            default:
                // Division is exact: 7 / 2 is 3.5, not 3.
                return try checked(Decimal(a) / Decimal(b), overflow)
            }
            if result.overflow { throw overflow }
            return .int(result.partialValue)
        }
        let a = decimal(lhs)!, b = divisor
        switch op {
        case .add: return try checked(a + b, overflow)
        case .subtract: return try checked(a - b, overflow)
        case .multiply: return try checked(a * b, overflow)
        case .divide: return try checked(a / b, overflow)
        default:
            throw mismatch("'%' needs ints, got \(lhs.typeName) and \(rhs.typeName)", node)
        }
    }

    private static func checked(_ value: Decimal, _ overflow: ExpressionEvaluationError) throws(ExpressionEvaluationError) -> EventValue {
        if value.isNaN { throw overflow }
        return .decimal(value)
    }
}
