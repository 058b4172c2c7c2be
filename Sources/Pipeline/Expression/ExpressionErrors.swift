/// An expression that does not parse. `range` is in Unicode scalars from the start of the
/// expression (0-based); `column` is 1-based for messages.
public struct ExpressionSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let unexpectedCharacter = Code(rawValue: "unexpected-character")
        public static let unexpectedToken = Code(rawValue: "unexpected-token")
        public static let unterminatedString = Code(rawValue: "unterminated-string")
        public static let invalidEscape = Code(rawValue: "invalid-escape")
        public static let invalidNumber = Code(rawValue: "invalid-number")
        public static let unknownFunction = Code(rawValue: "unknown-function")
        public static let wrongArgumentCount = Code(rawValue: "wrong-argument-count")
        public static let unknownMetadata = Code(rawValue: "unknown-metadata")
        public static let chainedComparison = Code(rawValue: "chained-comparison")
        public static let tooDeep = Code(rawValue: "too-deep")
    }

    public var code: Code
    public var message: String
    public var range: Range<Int>
    public var hint: String?

    public var column: Int { range.lowerBound + 1 }
    public var description: String { "column \(column): \(message)" }
}

/// An expression that failed on a particular event: a type mismatch, a division by zero, an
/// overflow. `range` locates the failing part in the expression text.
public struct ExpressionEvaluationError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let typeMismatch = Code(rawValue: "type-mismatch")
        public static let divisionByZero = Code(rawValue: "division-by-zero")
        public static let overflow = Code(rawValue: "overflow")
        public static let invalidArgument = Code(rawValue: "invalid-argument")
    }

    public var code: Code
    public var message: String
    public var range: Range<Int>

    public var column: Int { range.lowerBound + 1 }
    public var description: String { "column \(column): \(message)" }
}
