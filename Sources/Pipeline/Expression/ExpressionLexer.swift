/// Splits expression text into tokens. Positions count Unicode scalars, as YAML columns do.
struct ExpressionLexer {
    enum TokenKind: Equatable {
        case identifier(String)
        case integer(String)
        case decimal(String)
        case string(String)
        /// Punctuation and operators: `(`, `)`, `[`, `]`, `,`, `.`, `==`, `<=`, `+`, …
        case symbol(String)
        case end
    }

    struct Token: Equatable {
        var kind: TokenKind
        var range: Range<Int>
    }

    static let keywords: Set<String> = ["and", "or", "not", "in", "is", "null", "true", "false"]

    /// A name that can be written bare after a dot: an identifier that is not a keyword.
    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isIdentifierStart(first) else { return false }
        return name.unicodeScalars.allSatisfy(isIdentifierPart) && !keywords.contains(name)
    }

    static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    static func isIdentifierPart(_ scalar: Unicode.Scalar) -> Bool {
        isIdentifierStart(scalar) || ("0"..."9").contains(scalar)
    }

    private let scalars: [Unicode.Scalar]
    private var position = 0

    init(_ source: String) {
        scalars = Array(source.unicodeScalars)
    }

    mutating func tokenize() throws(ExpressionSyntaxError) -> [Token] {
        var tokens: [Token] = []
        while true {
            let token = try next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    private mutating func next() throws(ExpressionSyntaxError) -> Token {
        // The end sits right after the last token, not after trailing blanks (a block
        // scalar ends with a line break), so "found end of expression" points where text stops.
        let endOfText = position
        while let scalar = peek(), scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
            position += 1
        }
        let start = position
        guard let scalar = peek() else { return Token(kind: .end, range: endOfText..<endOfText) }

        if Self.isIdentifierStart(scalar) {
            while let part = peek(), Self.isIdentifierPart(part) { position += 1 }
            return Token(kind: .identifier(text(start..<position)), range: start..<position)
        }
        if ("0"..."9").contains(scalar) {
            return try number(from: start)
        }
        if scalar == "'" || scalar == "\"" {
            return try string(from: start, quote: scalar)
        }
        let two = peek(1).map { String(scalar) + String($0) } ?? ""
        if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
            position += 2
            if two == "&&" || two == "||" {
                throw ExpressionSyntaxError(
                    code: .unexpectedCharacter, message: "unexpected '\(two)'", range: start..<position,
                    hint: "write '\(two == "&&" ? "and" : "or")'")
            }
            return Token(kind: .symbol(two), range: start..<position)
        }
        if "()[],.<>+-*/%".unicodeScalars.contains(scalar) {
            position += 1
            return Token(kind: .symbol(String(scalar)), range: start..<position)
        }
        let hint: String? = switch scalar {
        case "=": "compare with '=='"
        case "!": "negate with 'not'"
        case "$": "expressions name fields directly: 'payload.amount', not '${payload.amount}'"
        default: nil
        }
        throw ExpressionSyntaxError(
            code: .unexpectedCharacter, message: "unexpected character '\(scalar)'", range: start..<start + 1,
            hint: hint)
    }

    private mutating func number(from start: Int) throws(ExpressionSyntaxError) -> Token {
        while let digit = peek(), ("0"..."9").contains(digit) { position += 1 }
        var isDecimal = false
        if peek() == ".", let after = peek(1), ("0"..."9").contains(after) {
            isDecimal = true
            position += 1
            while let digit = peek(), ("0"..."9").contains(digit) { position += 1 }
        }
        if let after = peek(), Self.isIdentifierPart(after) || after == "." {
            while let part = peek(), Self.isIdentifierPart(part) || part == "." { position += 1 }
            throw ExpressionSyntaxError(
                code: .invalidNumber, message: "invalid number '\(text(start..<position))'", range: start..<position,
                hint: nil)
        }
        let digits = text(start..<position)
        return Token(kind: isDecimal ? .decimal(digits) : .integer(digits), range: start..<position)
    }

    private mutating func string(from start: Int, quote: Unicode.Scalar) throws(ExpressionSyntaxError) -> Token {
        position += 1
        var value = String.UnicodeScalarView()
        while true {
            guard let scalar = peek() else {
                throw ExpressionSyntaxError(
                    code: .unterminatedString, message: "unterminated string", range: start..<position,
                    hint: "close it with \(quote)")
            }
            position += 1
            if scalar == quote { break }
            guard scalar == "\\" else {
                value.append(scalar)
                continue
            }
            let escapeStart = position - 1
            guard let escaped = peek() else { continue }
            position += 1
            switch escaped {
            case "\\", "'", "\"": value.append(escaped)
            case "n": value.append("\n")
            case "t": value.append("\t")
            case "r": value.append("\r")
            case "u":
                var hex = ""
                while hex.count < 4, let digit = peek(), digit.properties.isASCIIHexDigit {
                    hex.unicodeScalars.append(digit)
                    position += 1
                }
                guard hex.count == 4, let code = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(code) else {
                    throw ExpressionSyntaxError(
                        code: .invalidEscape, message: "invalid unicode escape", range: escapeStart..<position,
                        hint: "write \\u and four hex digits, as in \\u00e9")
                }
                value.append(decoded)
            default:
                throw ExpressionSyntaxError(
                    code: .invalidEscape, message: "unknown escape '\\\(escaped)'", range: escapeStart..<position,
                    hint: "escapes are \\\\ \\' \\\" \\n \\t \\r \\uXXXX")
            }
        }
        return Token(kind: .string(String(value)), range: start..<position)
    }

    private func text(_ range: Range<Int>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[range])
        return String(view)
    }
}
