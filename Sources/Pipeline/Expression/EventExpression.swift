import Foundation

/// A parsed expression: `payload.amount > 100 and headers.type in ['a', 'b']`.
///
/// Parse once when the pipeline is loaded, then `evaluate(on:)` per event; evaluation walks
/// the tree and never re-parses. Two expressions are equal when their trees are equal,
/// whatever their spacing or parentheses.
public struct EventExpression: Sendable, Equatable, CustomStringConvertible {
    /// The text it was parsed from.
    public let source: String
    public let root: ExpressionNode

    public init(source: String, root: ExpressionNode) {
        self.source = source
        self.root = root
    }

    /// Parses `source`; errors carry the column inside the expression.
    public static func parse(_ source: String) throws(ExpressionSyntaxError) -> EventExpression {
        var parser = ExpressionParser(source)
        return EventExpression(source: source, root: try parser.parseExpression())
    }

    /// The expression in canonical form (minimal parentheses); parsing it gives an equal tree.
    public var description: String { ExpressionPrinter.print(root) }

    public static func == (lhs: EventExpression, rhs: EventExpression) -> Bool { lhs.root == rhs.root }

    /// Every field path the expression reads, in order of appearance (for `explain` and for
    /// checking against what a stage's input provides).
    public var fieldPaths: [FieldPath] {
        var paths: [FieldPath] = []
        root.visit { node in
            if case .field(let path) = node.kind { paths.append(path) }
        }
        return paths
    }

    /// Every metadata field the expression reads.
    public var metadataFields: Set<MetadataField> {
        var fields: Set<MetadataField> = []
        root.visit { node in
            if case .metadata(let field) = node.kind { fields.insert(field) }
        }
        return fields
    }

    /// The expression reads the source transaction's commit position (`__lsn`, `__commit_ts`),
    /// which a streamed transaction has only once it commits.
    public var readsCommitPosition: Bool { !metadataFields.isDisjoint(with: MetadataField.commitPosition) }
}

/// One node of an expression tree with where it came from.
public struct ExpressionNode: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        case literal(EventValue)
        case field(FieldPath)
        case metadata(MetadataField)
        case list([ExpressionNode])
        case unary(UnaryOperator, ExpressionNode)
        case binary(BinaryOperator, ExpressionNode, ExpressionNode)
        /// `x is null` (negated: `x is not null`).
        case isNull(ExpressionNode, negated: Bool)
        /// `x in list` (negated: `x not in list`).
        case membership(ExpressionNode, ExpressionNode, negated: Bool)
        case call(ExpressionFunction, [ExpressionNode])
    }

    public let kind: Kind
    /// Offsets in Unicode scalars from the start of the expression text (0-based), the way
    /// YAML columns are counted, so a position maps onto the file.
    public let range: Range<Int>

    public init(_ kind: Kind, range: Range<Int>) {
        self.kind = kind
        self.range = range
    }

    /// Trees compare by shape and values, not by where they were written.
    public static func == (lhs: ExpressionNode, rhs: ExpressionNode) -> Bool { lhs.kind == rhs.kind }

    func visit(_ body: (ExpressionNode) -> Void) {
        body(self)
        switch kind {
        case .literal, .field, .metadata: break
        case .list(let items): items.forEach { $0.visit(body) }
        case .unary(_, let operand): operand.visit(body)
        case .binary(_, let left, let right): left.visit(body); right.visit(body)
        case .isNull(let operand, _): operand.visit(body)
        case .membership(let value, let list, _): value.visit(body); list.visit(body)
        case .call(_, let arguments): arguments.forEach { $0.visit(body) }
        }
    }
}

public enum UnaryOperator: String, Sendable, Equatable {
    case not
    case negate = "-"
}

public enum BinaryOperator: String, Sendable, Equatable, CaseIterable {
    case or, and
    case equal = "==", notEqual = "!="
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"

    /// Binding strength: higher binds tighter. `not` sits at 3, unary minus at 7.
    var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual: 4
        case .add, .subtract: 5
        case .multiply, .divide, .remainder: 6
        }
    }
}

/// The built-in functions, with how many arguments each takes.
public enum ExpressionFunction: String, Sendable, Equatable, CaseIterable {
    case lower, upper, concat, contains
    case startsWith = "starts_with", endsWith = "ends_with"
    case length, substring, coalesce, string, int

    public var arity: ClosedRange<Int> {
        switch self {
        case .lower, .upper, .length, .string, .int: 1...1
        case .contains, .startsWith, .endsWith: 2...2
        case .substring: 2...3
        case .concat, .coalesce: 1...Int.max
        }
    }

    var signature: String {
        switch self {
        case .lower, .upper: "\(rawValue)(string)"
        case .concat: "concat(value, …)"
        case .contains: "contains(string or array, value)"
        case .startsWith, .endsWith: "\(rawValue)(string, prefix)"
        case .length: "length(string, array or object)"
        case .substring: "substring(string, start, [length])"
        case .coalesce: "coalesce(value, …)"
        case .string: "string(value)"
        case .int: "int(value)"
        }
    }
}
