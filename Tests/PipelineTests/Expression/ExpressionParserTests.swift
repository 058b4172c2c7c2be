import Foundation
import Testing
@testable import Pipeline

@Suite struct ExpressionParserTests {
    @Test(arguments: [
        ("a + b * c", "a + (b * c)", "(a + b) * c"),
        ("a or b and c", "a or (b and c)", "(a or b) and c"),
        ("not a and b", "(not a) and b", "not (a and b)"),
        ("not a == b", "not (a == b)", "(not a) == b"),
        ("a - b - c", "(a - b) - c", "a - (b - c)"),
        ("a / b * c", "(a / b) * c", "a / (b * c)"),
        ("a + 1 > b", "(a + 1) > b", "a + (1 > b)"),
        ("-a * b", "(-a) * b", "-(a * b)"),
        ("x in [1, 2] and y", "(x in [1, 2]) and y", "x in ([1, 2] and y)"),
    ])
    func precedenceAndAssociativity(text: String, sameAs: String, differentFrom: String) throws {
        let parsed = try EventExpression.parse(text)
        #expect(parsed == (try EventExpression.parse(sameAs)))
        #expect(parsed != (try EventExpression.parse(differentFrom)))
    }

    @Test func pathsMetadataLiteralsAndCalls() throws {
        let expression = try EventExpression.parse(#"payload.items[2]['odd key'] == "a\n\u00e9" and __lsn is not null"#)
        guard case .binary(.and, let comparison, let isNull) = expression.root.kind,
              case .binary(.equal, let path, let literal) = comparison.kind else {
            Issue.record("unexpected tree \(expression.root)")
            return
        }
        #expect(path.kind == .field(FieldPath([.name("payload"), .name("items"), .index(2), .name("odd key")])))
        #expect(literal.kind == .literal(.string("a\né")))
        #expect(isNull.kind == .isNull(ExpressionNode(.metadata(.lsn), range: 0..<0), negated: true))
        #expect(expression.fieldPaths.map(\.description) == ["payload.items[2]['odd key']"])

        let call = try EventExpression.parse("coalesce(a, 'x', 1.50, -2, null, true)")
        guard case .call(.coalesce, let arguments) = call.root.kind else {
            Issue.record("not a call")
            return
        }
        #expect(arguments.map(\.kind) == [
            .field(FieldPath(names: "a")), .literal(.string("x")), .literal(.decimal(Decimal(string: "1.5")!)),
            .literal(.int(-2)), .literal(.null), .literal(.bool(true)),
        ])
    }

    @Test func nodeRangesPointIntoTheText() throws {
        let text = "lower(headers.type) != 'x'"
        let expression = try EventExpression.parse(text)
        guard case .binary(_, let call, let literal) = expression.root.kind,
              case .call(_, let arguments) = call.kind else {
            Issue.record("unexpected tree")
            return
        }
        let scalars = Array(text.unicodeScalars)
        func slice(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        #expect(slice(call.range) == "lower(headers.type)")
        #expect(slice(arguments[0].range) == "headers.type")
        #expect(slice(literal.range) == "'x'")
        #expect(expression.root.range == 0..<scalars.count)
    }

    @Test func int64BoundsAreLiterals() throws {
        #expect(try EventExpression.parse("-9223372036854775808").root.kind == .literal(.int(.min)))
        #expect(try EventExpression.parse("9223372036854775807").root.kind == .literal(.int(.max)))
        let error = try #require(throws: ExpressionSyntaxError.self) { try EventExpression.parse("9223372036854775808") }
        #expect(error.code == .invalidNumber)
    }

    /// Each malformed expression reports its own code at the column where the problem is.
    @Test(arguments: [
        ("payload.amount > > 3", ExpressionSyntaxError.Code.unexpectedToken, 18, nil as String?),
        ("lowr(headers.type)", .unknownFunction, 1, "did you mean 'lower'?"),
        ("a == 'open", .unterminatedString, 6, nil),
        ("a = 1", .unexpectedCharacter, 3, "compare with '=='"),
        ("a && b", .unexpectedCharacter, 3, "write 'and'"),
        ("__lssn == '0/1'", .unknownMetadata, 1, "did you mean '__lsn'?"),
        ("upper(a, b)", .wrongArgumentCount, 1, "usage: upper(string)"),
        ("a < b < c", .chainedComparison, 7, nil),
        ("'a\\q'", .invalidEscape, 3, nil),
        ("12ab", .invalidNumber, 1, nil),
        ("(a + 1", .unexpectedToken, 7, nil),
        ("a is 3", .unexpectedToken, 6, nil),
        ("", .unexpectedToken, 1, nil),
        ("é == ${x}", .unexpectedCharacter, 1, nil),
        ("'é' == ${x}", .unexpectedCharacter, 8, "expressions name fields directly: 'payload.amount', not '${payload.amount}'"),
    ])
    func syntaxErrorsCarryTheirColumn(text: String, code: ExpressionSyntaxError.Code, column: Int, hint: String?) throws {
        let error = try #require(throws: ExpressionSyntaxError.self) { try EventExpression.parse(text) }
        #expect(error.code == code, "\(error)")
        #expect(error.column == column, "\(error)")
        if let hint { #expect(error.hint == hint) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 10_000) + "a" + String(repeating: ")", count: 10_000)
        #expect(throws: ExpressionSyntaxError.self) { try EventExpression.parse(deep) }
        let negations = String(repeating: "not ", count: 10_000) + "a"
        #expect(throws: ExpressionSyntaxError.self) { try EventExpression.parse(negations) }
    }

    @Test func templatesSplitIntoLiteralsAndExpressions() throws {
        let template = try EventTemplate.parse("outbox.event.${lower(aggregatetype)}.v${version}")
        #expect(template.parts == [
            .literal("outbox.event."), .expression(try EventExpression.parse("lower(aggregatetype)")),
            .literal(".v"), .expression(try EventExpression.parse("version")),
        ])
        #expect(try EventTemplate.parse("plain.topic").constant == "plain.topic")
        let error = try #require(throws: ExpressionSyntaxError.self) { try EventTemplate.parse("a.${b +}") }
        #expect(error.column == 8)
        #expect(throws: ExpressionSyntaxError.self) { try EventTemplate.parse("a.${b") }
        let event = TestEvent(fields: ["aggregatetype": .string("Order"), "version": .int(2)])
        #expect(try template.render(on: event) == "outbox.event.order.v2")
        #expect(throws: ExpressionEvaluationError.self) { try template.render(on: TestEvent(fields: [:])) }
    }
}
