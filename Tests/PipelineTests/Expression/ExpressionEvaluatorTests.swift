import Foundation
import Testing
@testable import Pipeline

@Suite struct ExpressionEvaluatorTests {
    @Test(arguments: [
        ("payload.amount > 100", EventValue.bool(true)),
        ("payload.amount == 120.5", .bool(true)),
        ("payload.count == 3.0", .bool(true)),
        ("payload.count * 2 + 1", .int(7)),
        ("7 / 2", .decimal(Decimal(string: "3.5")!)),
        ("7 % 3", .int(1)),
        ("-payload.count", .int(-3)),
        ("payload.amount - 0.5", .decimal(120)),
        ("lower(payload.status) == 'paid'", .bool(true)),
        ("upper(headers.type)", .string("ORDERCREATED")),
        ("headers.type in ['OrderCreated', 'OrderPaid']", .bool(true)),
        ("headers.type not in ['OrderCreated']", .bool(false)),
        ("'vip' in payload.tags", .bool(true)),
        ("payload.note is null and payload.missing is null", .bool(true)),
        ("payload.status is not null", .bool(true)),
        ("payload['odd key']", .string("odd")),
        ("payload.tags[1]", .string("eu")),
        ("payload.tags[5]", .null),
        ("concat(headers.type, '-', payload.count, payload.note)", .string("OrderCreated-3")),
        ("contains(payload.status, 'ai')", .bool(true)),
        ("contains(payload.tags, 'eu')", .bool(true)),
        ("starts_with(id, 'e-')", .bool(true)),
        ("ends_with(id, 'x')", .bool(false)),
        ("length(payload.tags) + length('héllo')", .int(7)),
        ("substring('outflow', 3)", .string("flow")),
        ("substring('outflow', 0, 3)", .string("out")),
        ("substring('outflow', 10, 3)", .string("")),
        ("coalesce(payload.note, payload.missing, 'fallback')", .string("fallback")),
        ("string(payload.amount)", .string("120.5")),
        ("string(payload.tags)", .string(#"["vip","eu"]"#)),
        ("int('42') + int(2.9) + int(-2.9) + int(true)", .int(43)),
        ("__table == 'public.outbox' and __op == 'insert'", .bool(true)),
        ("__topic", .null),
        ("'b' > 'a'", .bool(true)),
        ("payload.missing > 3", .null),
        ("null == null", .bool(true)),
        ("1 == '1'", .bool(false)),
        ("lower(payload.missing)", .null),
    ])
    func evaluates(text: String, expected: EventValue) throws {
        let value = try evaluate(text)
        #expect(ExpressionEvaluator.equal(value, expected), "\(text) gave \(value)")
        #expect(value.typeName == expected.typeName, "\(text) gave \(value)")
    }

    /// SQL's three-valued logic: the deciding value wins over null.
    @Test func threeValuedLogic() throws {
        let values: [(String, Bool?)] = [("true", true), ("false", false), ("null", nil)]
        for (left, a) in values {
            for (right, b) in values {
                let and: Bool? = (a == false || b == false) ? false : (a == nil || b == nil ? nil : true)
                let or: Bool? = (a == true || b == true) ? true : (a == nil || b == nil ? nil : false)
                #expect(try evaluate("\(left) and \(right)") == (and.map(EventValue.bool) ?? .null), "\(left) and \(right)")
                #expect(try evaluate("\(left) or \(right)") == (or.map(EventValue.bool) ?? .null), "\(left) or \(right)")
            }
            #expect(try evaluate("not \(left)") == (a.map { .bool(!$0) } ?? .null))
        }
    }

    @Test func shortCircuitSkipsTheErrorOnTheOtherSide() throws {
        #expect(try evaluate("false and 1 / 0 == 1") == .bool(false))
        #expect(try evaluate("true or 1 / 0 == 1") == .bool(true))
        #expect(try evaluate("coalesce('x', 1 / 0)") == .string("x"))
    }

    @Test(arguments: [
        ("1 / 0", ExpressionEvaluationError.Code.divisionByZero, "1 / 0"),
        ("payload.count % 0", .divisionByZero, "payload.count % 0"),
        ("9223372036854775807 + 1", .overflow, "9223372036854775807 + 1"),
        ("-(-9223372036854775808)", .overflow, "-(-9223372036854775808)"),
        ("headers.type + 1", .typeMismatch, "headers.type"),
        ("payload.count > 'x'", .typeMismatch, "payload.count > 'x'"),
        ("not payload.count", .typeMismatch, "payload.count"),
        ("payload.count and true", .typeMismatch, "payload.count"),
        ("lower(payload.count)", .typeMismatch, "payload.count"),
        ("int('4x')", .invalidArgument, "int('4x')"),
        ("1 in payload.status", .typeMismatch, "payload.status"),
        ("substring('a', -1)", .invalidArgument, "substring('a', -1)"),
    ])
    func evaluationErrorsAreTypedAndLocated(text: String, code: ExpressionEvaluationError.Code, failing: String) throws {
        let expression = try EventExpression.parse(text)
        let error = try #require(throws: ExpressionEvaluationError.self) { try expression.evaluate(on: TestEvent.order) }
        #expect(error.code == code, "\(error)")
        let scalars = Array(text.unicodeScalars)
        #expect(String(String.UnicodeScalarView(scalars[error.range])) == failing)
    }

    @Test func conditions() throws {
        #expect(try EventExpression.parse("payload.count > 1").isSatisfied(by: TestEvent.order))
        #expect(try !EventExpression.parse("payload.missing > 1").isSatisfied(by: TestEvent.order))
        #expect(throws: ExpressionEvaluationError.self) { try EventExpression.parse("payload.count").isSatisfied(by: TestEvent.order) }
    }
}
