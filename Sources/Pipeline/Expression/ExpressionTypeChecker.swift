/// Finds, when a pipeline is loaded, the type mistakes an expression would make on every
/// event: `'a' + 1`, `lower(5)`, `__lsn > 3`, a filter whose condition is a number. Fields
/// have unknown types until an event arrives, so only what is certain is reported; `null`
/// is accepted anywhere (it propagates at run time).
public struct ExpressionTypeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// Unicode-scalar offsets in the expression, as in `ExpressionNode.range`.
    public var range: Range<Int>
    public var hint: String?

    public var column: Int { range.lowerBound + 1 }
    public var description: String { "column \(column): \(message)" }
}

extension EventExpression {
    /// The certain type mistakes, in the order they appear. With `asCondition`, the whole
    /// expression must also be able to give a bool (as filter and route conditions must).
    public func typeErrors(asCondition: Bool = false) -> [ExpressionTypeError] {
        var checker = ExpressionTypeChecker()
        let type = checker.infer(root)
        if asCondition, type != .bool, type != .unknown {
            checker.errors.append(ExpressionTypeError(
                message: "a condition must give true or false, this gives \(type.name)", range: root.range,
                hint: "compare it, as in \(description) == …, or test it with 'is not null'"))
        }
        return checker.errors.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }
}

struct ExpressionTypeChecker {
    /// What is known about a value before any event: a type, or unknown (a field).
    enum StaticType: Equatable {
        case bool, number, string, null, array, unknown

        var name: String {
            switch self {
            case .bool: "a bool"
            case .number: "a number"
            case .string: "a string"
            case .null: "null"
            case .array: "an array"
            case .unknown: "a value"
            }
        }

        /// Could be `wanted` (or null) at run time.
        func canBe(_ wanted: StaticType...) -> Bool {
            self == .unknown || self == .null || wanted.contains(self)
        }
    }

    var errors: [ExpressionTypeError] = []

    private mutating func require(_ node: ExpressionNode, _ type: StaticType, toBe wanted: StaticType..., for what: String, hint: String? = nil) {
        guard !(type == .unknown || type == .null || wanted.contains(type)) else { return }
        let names = wanted.map(\.name).joined(separator: " or ")
        errors.append(ExpressionTypeError(message: "\(what) needs \(names), got \(type.name)", range: node.range, hint: hint))
    }

    mutating func infer(_ node: ExpressionNode) -> StaticType {
        switch node.kind {
        case .literal(let value):
            switch value {
            case .null: return .null
            case .bool: return .bool
            case .int, .decimal: return .number
            case .string: return .string
            case .array: return .array
            case .object: return .unknown
            }
        case .field:
            return .unknown
        case .metadata(let field):
            switch field {
            case .lsn, .table, .op, .commitTimestamp, .topic: return .string
            case .xid: return .number
            case .key: return .unknown
            }
        case .list(let items):
            for item in items { _ = infer(item) }
            return .array
        case .unary(.not, let operand):
            require(operand, infer(operand), toBe: .bool, for: "'not'")
            return .bool
        case .unary(.negate, let operand):
            require(operand, infer(operand), toBe: .number, for: "'-'")
            return .number
        case .binary(let op, let left, let right):
            let lhs = infer(left), rhs = infer(right)
            switch op {
            case .and, .or:
                require(left, lhs, toBe: .bool, for: "'\(op.rawValue)'")
                require(right, rhs, toBe: .bool, for: "'\(op.rawValue)'")
                return .bool
            case .equal, .notEqual:
                // Values of two different known types are never equal: a mistake, not a test.
                if lhs != .unknown, rhs != .unknown, lhs != .null, rhs != .null, lhs != rhs {
                    errors.append(ExpressionTypeError(
                        message: "'\(op.rawValue)' between \(lhs.name) and \(rhs.name) is always \(op == .equal ? "false" : "true")",
                        range: node.range, hint: lhs == .number || rhs == .number ? "convert with int() or string()" : nil))
                }
                return .bool
            case .less, .lessOrEqual, .greater, .greaterOrEqual:
                let comparable = [lhs, rhs].allSatisfy { $0.canBe(.number, .string) }
                    && !(lhs == .number && rhs == .string) && !(lhs == .string && rhs == .number)
                if !comparable {
                    errors.append(ExpressionTypeError(
                        message: "cannot order \(lhs.name) and \(rhs.name) with '\(op.rawValue)'", range: node.range,
                        hint: "'\(op.rawValue)' compares two numbers or two strings"))
                }
                return .bool
            case .add, .subtract, .multiply, .divide, .remainder:
                let hint = op == .add && (lhs == .string || rhs == .string) ? "join strings with concat()" : nil
                require(left, lhs, toBe: .number, for: "'\(op.rawValue)'", hint: hint)
                require(right, rhs, toBe: .number, for: "'\(op.rawValue)'", hint: hint)
                return .number
            }
        case .isNull(let operand, _):
            _ = infer(operand)
            return .bool
        case .membership(let value, let list, _):
            _ = infer(value)
            let listType = infer(list)
            require(list, listType, toBe: .array, for: "'in'", hint: listType == .string ? "test for a substring with contains()" : nil)
            return .bool
        case .call(let function, let arguments):
            let types = arguments.map { infer($0) }
            let name = function.rawValue
            switch function {
            case .lower, .upper:
                require(arguments[0], types[0], toBe: .string, for: name)
                return .string
            case .startsWith, .endsWith:
                require(arguments[0], types[0], toBe: .string, for: name)
                require(arguments[1], types[1], toBe: .string, for: name)
                return .bool
            case .contains:
                require(arguments[0], types[0], toBe: .string, .array, for: name)
                if types[0] == .string { require(arguments[1], types[1], toBe: .string, for: name) }
                return .bool
            case .length:
                require(arguments[0], types[0], toBe: .string, .array, for: name)
                return .number
            case .substring:
                require(arguments[0], types[0], toBe: .string, for: name)
                for index in 1..<arguments.count { require(arguments[index], types[index], toBe: .number, for: name) }
                return .string
            case .concat, .string:
                return .string
            case .int:
                require(arguments[0], types[0], toBe: .number, .string, .bool, for: name)
                return .number
            case .coalesce:
                let known = Set(types.map(\.name)).subtracting([StaticType.null.name])
                return known.count == 1 ? types.first { $0 != .null }! : .unknown
            }
        }
    }
}
