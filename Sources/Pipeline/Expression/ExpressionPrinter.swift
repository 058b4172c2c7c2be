import Foundation

/// Prints expression trees in canonical form: single-quoted strings, spaces around binary
/// operators and only the parentheses the precedence rules need.
enum ExpressionPrinter {
    static func print(_ node: ExpressionNode) -> String {
        var output = ""
        write(node, to: &output)
        return output
    }

    /// Precedence of the node as an operand; primaries bind tightest.
    private static func precedence(_ node: ExpressionNode) -> Int {
        switch node.kind {
        case .binary(let op, _, _): op.precedence
        case .unary(.not, _): 3
        case .isNull, .membership: 4
        case .unary(.negate, _): 7
        case .literal(.int(let value)) where value < 0: 7
        case .literal(.decimal(let value)) where value < 0: 7
        default: 8
        }
    }

    private static func write(_ node: ExpressionNode, parenthesized: Bool, to output: inout String) {
        if parenthesized { output += "(" }
        write(node, to: &output)
        if parenthesized { output += ")" }
    }

    private static func write(_ node: ExpressionNode, to output: inout String) {
        switch node.kind {
        case .literal(let value):
            writeLiteral(value, to: &output)
        case .field(let path):
            output += path.description
        case .metadata(let field):
            output += field.rawValue
        case .list(let items):
            output += "["
            for (position, item) in items.enumerated() {
                if position > 0 { output += ", " }
                write(item, to: &output)
            }
            output += "]"
        case .unary(.not, let operand):
            output += "not "
            write(operand, parenthesized: precedence(operand) < 3, to: &output)
        case .unary(.negate, let operand):
            output += "-"
            // Parenthesize a number too: `-(5)` is negation of five, `-5` would be the literal.
            let isNumber: Bool = switch operand.kind {
            case .literal(.int), .literal(.decimal): true
            default: false
            }
            write(operand, parenthesized: isNumber || precedence(operand) < 7, to: &output)
        case .binary(let op, let left, let right):
            let own = op.precedence
            // Comparisons do not chain, so a comparison operand of a comparison needs parentheses.
            let leftNeeds = own == 4 ? precedence(left) <= own : precedence(left) < own
            write(left, parenthesized: leftNeeds, to: &output)
            output += " \(op.rawValue) "
            write(right, parenthesized: precedence(right) <= own, to: &output)
        case .isNull(let operand, let negated):
            write(operand, parenthesized: precedence(operand) <= 4, to: &output)
            output += negated ? " is not null" : " is null"
        case .membership(let value, let list, let negated):
            write(value, parenthesized: precedence(value) <= 4, to: &output)
            output += negated ? " not in " : " in "
            write(list, parenthesized: precedence(list) <= 4, to: &output)
        case .call(let function, let arguments):
            output += function.rawValue + "("
            for (position, argument) in arguments.enumerated() {
                if position > 0 { output += ", " }
                write(argument, to: &output)
            }
            output += ")"
        }
    }

    private static func writeLiteral(_ value: EventValue, to output: inout String) {
        switch value {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .int(let number): output += String(number)
        case .decimal(let number):
            let text = number.description
            output += text.contains(".") ? text : text + ".0"
        case .string(let text): output += quoted(text)
        case .array(let items):
            output += "["
            for (position, item) in items.enumerated() {
                if position > 0 { output += ", " }
                writeLiteral(item, to: &output)
            }
            output += "]"
        case .object:
            // The grammar has no object literals; evaluation never produces one as a literal.
            output += "null"
        }
    }

    static func quoted(_ text: String) -> String {
        var output = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "'": output += "\\'"
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\t": output += "\\t"
            case "\r": output += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                output += "\\u" + String(format: "%04x", scalar.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "'"
    }
}
