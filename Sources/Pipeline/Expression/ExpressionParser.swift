import Foundation

/// Recursive descent over the grammar, loosest first:
///
///     or         := and ('or' and)*
///     and        := not ('and' not)*
///     not        := 'not' not | comparison
///     comparison := additive [ ('=='|'!='|'<'|'<='|'>'|'>=') additive
///                            | ['not'] 'in' additive | 'is' ['not'] 'null' ]
///     additive   := multiplicative (('+'|'-') multiplicative)*
///     multiplicative := unary (('*'|'/'|'%') unary)*
///     unary      := '-' unary | primary
///     primary    := literal | list | '(' or ')' | call | path | metadata
///
/// Comparisons do not chain (`a < b < c` is an error): the chained reading is never what
/// was meant.
struct ExpressionParser {
    /// Deep enough for any real expression, shallow enough that the recursion stays far from
    /// the stack's end.
    static let maximumDepth = 64

    private var tokens: [ExpressionLexer.Token] = []
    private var index = 0
    private var depth = 0
    private let source: String

    init(_ source: String) {
        self.source = source
    }

    mutating func parseExpression() throws(ExpressionSyntaxError) -> ExpressionNode {
        var lexer = ExpressionLexer(source)
        tokens = try lexer.tokenize()
        if current.kind == .end {
            throw ExpressionSyntaxError(
                code: .unexpectedToken, message: "empty expression", range: 0..<0, hint: nil)
        }
        let node = try parseOr()
        guard current.kind == .end else {
            throw unexpected(current, expecting: "an operator or the end of the expression")
        }
        return node
    }

    private var current: ExpressionLexer.Token { tokens[index] }

    private mutating func advance() -> ExpressionLexer.Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isKeyword(_ keyword: String, at offset: Int = 0) -> Bool {
        index + offset < tokens.count && tokens[index + offset].kind == .identifier(keyword)
    }

    private func isSymbol(_ symbol: String) -> Bool { current.kind == .symbol(symbol) }

    private mutating func expectSymbol(_ symbol: String, _ what: String) throws(ExpressionSyntaxError) -> ExpressionLexer.Token {
        guard isSymbol(symbol) else { throw unexpected(current, expecting: what) }
        return advance()
    }

    private func unexpected(_ token: ExpressionLexer.Token, expecting: String) -> ExpressionSyntaxError {
        let found: String = switch token.kind {
        case .end: "end of expression"
        case .identifier(let name): "'\(name)'"
        case .integer(let digits), .decimal(let digits): "number \(digits)"
        case .string: "string"
        case .symbol(let symbol): "'\(symbol)'"
        }
        var range = token.range
        if range.isEmpty { range = range.lowerBound..<range.lowerBound + 1 }
        return ExpressionSyntaxError(
            code: .unexpectedToken, message: "expected \(expecting), found \(found)", range: range, hint: nil)
    }

    private mutating func nested<T>(_ body: (inout ExpressionParser) throws(ExpressionSyntaxError) -> T) throws(ExpressionSyntaxError) -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw ExpressionSyntaxError(
                code: .tooDeep, message: "expression nests more than \(Self.maximumDepth) levels deep",
                range: current.range, hint: nil)
        }
        return try body(&self)
    }

    private mutating func parseOr() throws(ExpressionSyntaxError) -> ExpressionNode {
        try nested { (parser: inout ExpressionParser) throws(ExpressionSyntaxError) -> ExpressionNode in
            var left = try parser.parseAnd()
            while parser.isKeyword("or") {
                _ = parser.advance()
                let right = try parser.parseAnd()
                left = ExpressionNode(.binary(.or, left, right), range: left.range.lowerBound..<right.range.upperBound)
            }
            return left
        }
    }

    private mutating func parseAnd() throws(ExpressionSyntaxError) -> ExpressionNode {
        var left = try parseNot()
        while isKeyword("and") {
            _ = advance()
            let right = try parseNot()
            left = ExpressionNode(.binary(.and, left, right), range: left.range.lowerBound..<right.range.upperBound)
        }
        return left
    }

    private mutating func parseNot() throws(ExpressionSyntaxError) -> ExpressionNode {
        guard isKeyword("not") else { return try parseComparison() }
        let keyword = advance()
        let operand = try nested { (parser: inout ExpressionParser) throws(ExpressionSyntaxError) in try parser.parseNot() }
        return ExpressionNode(.unary(.not, operand), range: keyword.range.lowerBound..<operand.range.upperBound)
    }

    private static let comparisons: [String: BinaryOperator] = [
        "==": .equal, "!=": .notEqual, "<": .less, "<=": .lessOrEqual, ">": .greater, ">=": .greaterOrEqual,
    ]

    private mutating func parseComparison() throws(ExpressionSyntaxError) -> ExpressionNode {
        let left = try parseAdditive()
        var result: ExpressionNode
        if case .symbol(let symbol) = current.kind, let op = Self.comparisons[symbol] {
            _ = advance()
            let right = try parseAdditive()
            result = ExpressionNode(.binary(op, left, right), range: left.range.lowerBound..<right.range.upperBound)
        } else if isKeyword("in") || (isKeyword("not") && isKeyword("in", at: 1)) {
            let negated = isKeyword("not")
            if negated { _ = advance() }
            _ = advance()
            let list = try parseAdditive()
            result = ExpressionNode(
                .membership(left, list, negated: negated), range: left.range.lowerBound..<list.range.upperBound)
        } else if isKeyword("is") {
            _ = advance()
            let negated = isKeyword("not")
            if negated { _ = advance() }
            guard isKeyword("null") else { throw unexpected(current, expecting: "'null' after 'is'") }
            let end = advance().range.upperBound
            result = ExpressionNode(.isNull(left, negated: negated), range: left.range.lowerBound..<end)
        } else {
            return left
        }
        let chained: Bool = switch current.kind {
        case .symbol(let symbol): Self.comparisons[symbol] != nil
        case .identifier(let name): name == "in" || name == "is" || (name == "not" && isKeyword("in", at: 1))
        default: false
        }
        if chained {
            throw ExpressionSyntaxError(
                code: .chainedComparison, message: "comparisons cannot be chained", range: current.range,
                hint: "combine comparisons with 'and', or add parentheses")
        }
        return result
    }

    private mutating func parseAdditive() throws(ExpressionSyntaxError) -> ExpressionNode {
        var left = try parseMultiplicative()
        while isSymbol("+") || isSymbol("-") {
            let op: BinaryOperator = isSymbol("+") ? .add : .subtract
            _ = advance()
            let right = try parseMultiplicative()
            left = ExpressionNode(.binary(op, left, right), range: left.range.lowerBound..<right.range.upperBound)
        }
        return left
    }

    private mutating func parseMultiplicative() throws(ExpressionSyntaxError) -> ExpressionNode {
        var left = try parseUnary()
        while isSymbol("*") || isSymbol("/") || isSymbol("%") {
            let op: BinaryOperator = isSymbol("*") ? .multiply : isSymbol("/") ? .divide : .remainder
            _ = advance()
            let right = try parseUnary()
            left = ExpressionNode(.binary(op, left, right), range: left.range.lowerBound..<right.range.upperBound)
        }
        return left
    }

    private mutating func parseUnary() throws(ExpressionSyntaxError) -> ExpressionNode {
        guard isSymbol("-") else { return try parsePrimary() }
        let minus = advance()
        // A minus written directly before a number is part of the literal, so `-5` is the
        // number minus five (and Int64.min can be written at all).
        switch current.kind {
        case .integer(let digits) where current.range.lowerBound == minus.range.upperBound:
            let token = advance()
            return try integerLiteral("-" + digits, range: minus.range.lowerBound..<token.range.upperBound)
        case .decimal(let digits) where current.range.lowerBound == minus.range.upperBound:
            let token = advance()
            return try decimalLiteral("-" + digits, range: minus.range.lowerBound..<token.range.upperBound)
        default:
            let operand = try nested { (parser: inout ExpressionParser) throws(ExpressionSyntaxError) in try parser.parseUnary() }
            return ExpressionNode(.unary(.negate, operand), range: minus.range.lowerBound..<operand.range.upperBound)
        }
    }

    private func integerLiteral(_ text: String, range: Range<Int>) throws(ExpressionSyntaxError) -> ExpressionNode {
        guard let value = Int64(text) else {
            throw ExpressionSyntaxError(
                code: .invalidNumber, message: "integer \(text) does not fit 64 bits", range: range,
                hint: "write it as a decimal: \(text).0")
        }
        return ExpressionNode(.literal(.int(value)), range: range)
    }

    private func decimalLiteral(_ text: String, range: Range<Int>) throws(ExpressionSyntaxError) -> ExpressionNode {
        guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), !value.isNaN else {
            throw ExpressionSyntaxError(
                code: .invalidNumber, message: "invalid decimal \(text)", range: range, hint: nil)
        }
        return ExpressionNode(.literal(.decimal(value)), range: range)
    }

    private mutating func parsePrimary() throws(ExpressionSyntaxError) -> ExpressionNode {
        let token = current
        switch token.kind {
        case .integer(let digits):
            _ = advance()
            return try integerLiteral(digits, range: token.range)
        case .decimal(let digits):
            _ = advance()
            return try decimalLiteral(digits, range: token.range)
        case .string(let value):
            _ = advance()
            return ExpressionNode(.literal(.string(value)), range: token.range)
        case .symbol("("):
            _ = advance()
            let inner = try parseOr()
            let close = try expectSymbol(")", "')'")
            // The parentheses belong to the node, so an error points at all of what was written.
            return ExpressionNode(inner.kind, range: token.range.lowerBound..<close.range.upperBound)
        case .symbol("["):
            _ = advance()
            var items: [ExpressionNode] = []
            if !isSymbol("]") {
                repeat {
                    if !items.isEmpty { _ = advance() }
                    items.append(try parseOr())
                } while isSymbol(",")
            }
            let close = try expectSymbol("]", "',' or ']'")
            return ExpressionNode(.list(items), range: token.range.lowerBound..<close.range.upperBound)
        case .identifier("null"):
            _ = advance()
            return ExpressionNode(.literal(.null), range: token.range)
        case .identifier("true"), .identifier("false"):
            _ = advance()
            return ExpressionNode(.literal(.bool(token.kind == .identifier("true"))), range: token.range)
        case .identifier(let name) where !ExpressionLexer.keywords.contains(name):
            _ = advance()
            if isSymbol("(") { return try parseCall(name, token) }
            if name.hasPrefix("__") { return try parseMetadata(name, token) }
            return try parsePath(name, token)
        default:
            throw unexpected(token, expecting: "a value, a field or '('")
        }
    }

    private mutating func parseCall(_ name: String, _ nameToken: ExpressionLexer.Token) throws(ExpressionSyntaxError) -> ExpressionNode {
        guard let function = ExpressionFunction(rawValue: name) else {
            let known = ExpressionFunction.allCases.map(\.rawValue)
            throw ExpressionSyntaxError(
                code: .unknownFunction, message: "unknown function '\(name)'", range: nameToken.range,
                hint: Suggestions.didYouMean(name, among: known) ?? "functions are \(known.joined(separator: ", "))")
        }
        _ = advance()
        var arguments: [ExpressionNode] = []
        if !isSymbol(")") {
            repeat {
                if !arguments.isEmpty { _ = advance() }
                arguments.append(try parseOr())
            } while isSymbol(",")
        }
        let close = try expectSymbol(")", "',' or ')'")
        let range = nameToken.range.lowerBound..<close.range.upperBound
        guard function.arity.contains(arguments.count) else {
            let expected = function.arity.count == 1 ? "\(function.arity.lowerBound)"
                : function.arity.upperBound == Int.max ? "at least \(function.arity.lowerBound)"
                : "\(function.arity.lowerBound) or \(function.arity.upperBound)"
            throw ExpressionSyntaxError(
                code: .wrongArgumentCount,
                message: "\(name) takes \(expected) argument\(expected == "1" ? "" : "s"), not \(arguments.count)",
                range: range, hint: "usage: \(function.signature)")
        }
        return ExpressionNode(.call(function, arguments), range: range)
    }

    private func parseMetadata(_ name: String, _ token: ExpressionLexer.Token) throws(ExpressionSyntaxError) -> ExpressionNode {
        guard let field = MetadataField(rawValue: name) else {
            let known = MetadataField.allCases.map(\.rawValue)
            throw ExpressionSyntaxError(
                code: .unknownMetadata, message: "unknown metadata field '\(name)'", range: token.range,
                hint: Suggestions.didYouMean(name, among: known) ?? "metadata fields are \(known.joined(separator: ", "))")
        }
        return ExpressionNode(.metadata(field), range: token.range)
    }

    private mutating func parsePath(_ name: String, _ first: ExpressionLexer.Token) throws(ExpressionSyntaxError) -> ExpressionNode {
        var segments: [FieldPath.Segment] = [.name(name)]
        var end = first.range.upperBound
        while true {
            if isSymbol(".") {
                _ = advance()
                guard case .identifier(let part) = current.kind else {
                    throw unexpected(current, expecting: "a field name after '.'")
                }
                end = advance().range.upperBound
                segments.append(.name(part))
            } else if isSymbol("[") {
                _ = advance()
                switch current.kind {
                case .integer(let digits):
                    let token = advance()
                    guard let position = Int(digits) else {
                        throw ExpressionSyntaxError(
                            code: .invalidNumber, message: "index \(digits) is too large", range: token.range, hint: nil)
                    }
                    segments.append(.index(position))
                case .string(let key):
                    _ = advance()
                    segments.append(.name(key))
                default:
                    throw unexpected(current, expecting: "an index or a quoted field name")
                }
                end = try expectSymbol("]", "']'").range.upperBound
            } else {
                break
            }
        }
        return ExpressionNode(.field(FieldPath(segments)), range: first.range.lowerBound..<end)
    }
}
