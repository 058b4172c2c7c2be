import Foundation
import Testing
@testable import Pipeline

/// Property: printing any tree and parsing the text gives the same tree back, and the parsed
/// tree evaluates to the same value as the original.
@Suite struct ExpressionRoundTripTests {
    /// SplitMix64: a small seeded generator so a failure reproduces from its seed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let names = ["payload", "after", "headers", "id", "status_2", "_x", "andy", "nothing", "isle", "in_stock"]
    static let strings = ["", "a", "it's", "back\\slash", "line\nbreak", "tab\t", "é€😀", "\u{1}", "\"q\""]

    static func node(_ kind: ExpressionNode.Kind) -> ExpressionNode { ExpressionNode(kind, range: 0..<0) }

    static func randomLiteral(_ random: inout SeededGenerator) -> EventValue {
        switch Int.random(in: 0..<6, using: &random) {
        case 0: .null
        case 1: .bool(Bool.random(using: &random))
        case 2: .int(Int64.random(in: -1_000_000...1_000_000, using: &random))
        case 3: .int([Int64.min, Int64.max, 0][Int.random(in: 0..<3, using: &random)])
        case 4: .decimal(Decimal(Int.random(in: -99_999...99_999, using: &random)) / 100)
        default: .string(strings.randomElement(using: &random)!)
        }
    }

    static func randomPath(_ random: inout SeededGenerator) -> FieldPath {
        var segments: [FieldPath.Segment] = [.name(names.randomElement(using: &random)!)]
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: segments.append(.index(Int.random(in: 0...20, using: &random)))
            case 1: segments.append(.name(["and", "odd key", "a.b", "x"].randomElement(using: &random)!))
            default: segments.append(.name(names.randomElement(using: &random)!))
            }
        }
        return FieldPath(segments)
    }

    static func randomExpression(_ random: inout SeededGenerator, depth: Int) -> ExpressionNode {
        if depth == 0 || Int.random(in: 0..<4, using: &random) == 0 {
            switch Int.random(in: 0..<3, using: &random) {
            case 0: return node(.literal(randomLiteral(&random)))
            case 1: return node(.field(randomPath(&random)))
            default: return node(.metadata(MetadataField.allCases.randomElement(using: &random)!))
            }
        }
        let child = { (random: inout SeededGenerator) in randomExpression(&random, depth: depth - 1) }
        switch Int.random(in: 0..<7, using: &random) {
        case 0:
            return node(.unary(Bool.random(using: &random) ? .not : .negate, child(&random)))
        case 1, 2:
            let op = BinaryOperator.allCases.randomElement(using: &random)!
            return node(.binary(op, child(&random), child(&random)))
        case 3:
            return node(.isNull(child(&random), negated: Bool.random(using: &random)))
        case 4:
            let items = (0..<Int.random(in: 0...3, using: &random)).map { _ in child(&random) }
            let list = Bool.random(using: &random) ? node(.list(items)) : child(&random)
            return node(.membership(child(&random), list, negated: Bool.random(using: &random)))
        case 5:
            let items = (0..<Int.random(in: 0...3, using: &random)).map { _ in child(&random) }
            return node(.list(items))
        default:
            let function = ExpressionFunction.allCases.randomElement(using: &random)!
            let count = Int.random(in: function.arity.lowerBound...min(function.arity.upperBound, 4), using: &random)
            return node(.call(function, (0..<count).map { _ in child(&random) }))
        }
    }

    @Test(arguments: 0..<40)
    func printedTreesReparseToTheSameTree(seed: Int) throws {
        var random = SeededGenerator(state: UInt64(seed))
        for _ in 0..<50 {
            let tree = Self.randomExpression(&random, depth: 5)
            let text = ExpressionPrinter.print(tree)
            let reparsed: EventExpression
            do {
                reparsed = try EventExpression.parse(text)
            } catch {
                Issue.record("seed \(seed): '\(text)' does not parse: \(error)")
                return
            }
            #expect(reparsed.root == tree, "seed \(seed): '\(text)' reparsed as '\(reparsed)'")
            // And the text of the reparsed tree is a fixed point.
            #expect(reparsed.description == text)
        }
    }

    /// Property: evaluating any tree on any event returns a value or throws a typed error;
    /// it never traps (overflow, out-of-range index, NaN decimals).
    @Test(arguments: 0..<20)
    func evaluationNeverTraps(seed: Int) {
        var random = SeededGenerator(state: UInt64(seed) &+ 1_000)
        for _ in 0..<200 {
            let tree = Self.randomExpression(&random, depth: 4)
            let event = TestEvent(fields: Dictionary(uniqueKeysWithValues: Self.names.map { ($0, Self.randomValue(&random, depth: 2)) }))
            // The static checker runs on anything too.
            _ = EventExpression(source: "", root: tree).typeErrors(asCondition: Bool.random(using: &random))
            do {
                _ = try EventExpression(source: "", root: tree).evaluate(on: event)
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    static func randomValue(_ random: inout SeededGenerator, depth: Int) -> EventValue {
        switch Int.random(in: 0..<(depth > 0 ? 8 : 6), using: &random) {
        case 6: return .array((0..<Int.random(in: 0...3, using: &random)).map { _ in randomValue(&random, depth: depth - 1) })
        case 7:
            return .object(Dictionary(uniqueKeysWithValues: names.shuffled(using: &random).prefix(3).map { ($0, randomValue(&random, depth: depth - 1)) }))
        case 5: return .decimal(Decimal(string: ["1e38", "-1e38", "0.000001", "123456789.987654321"].randomElement(using: &random)!)!)
        default: return randomLiteral(&random)
        }
    }

    @Test func spacingAndRedundantParenthesesDoNotMatter() throws {
        #expect(try EventExpression.parse("((a))+( b*c )") == EventExpression.parse("a + b * c"))
        #expect(try EventExpression.parse("x in[1,2]") == EventExpression.parse("x in [1, 2]"))
    }
}
