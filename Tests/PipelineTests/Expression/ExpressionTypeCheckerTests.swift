import Testing
@testable import Pipeline

@Suite struct ExpressionTypeCheckerTests {
    static func errors(_ text: String, asCondition: Bool = false) throws -> [ExpressionTypeError] {
        try EventExpression.parse(text).typeErrors(asCondition: asCondition)
    }

    /// Expressions whose types are unknown until an event arrives, or fine, pass.
    @Test(arguments: [
        "payload.amount + 1", "lower(headers.type) == 'x'", "payload.a and payload.b", "not payload.flag",
        "__xid > 10", "__lsn >= '0/1'", "payload.x in ['a', 1]", "payload.x in payload.list", "length(payload.items) > 0",
        "concat('a', 1, true)", "string(1) == '1'", "int('3') + 1", "null + 1", "coalesce(payload.a, 0) * 2",
        "substring(payload.s, 0, 2)", "contains(payload.tags, 1)", "1 == 1.0", "payload.a == null",
    ])
    func acceptsWhatCanWork(text: String) throws {
        #expect(try Self.errors(text).isEmpty)
    }

    /// Each certain mistake is reported at the part that is wrong.
    @Test(arguments: [
        ("'a' + 1", "'+' needs a number, got a string", "'a'", "join strings with concat()"),
        ("payload.x * true", "'*' needs a number, got a bool", "true", nil),
        ("not 'x'", "'not' needs a bool, got a string", "'x'", nil),
        ("payload.a and 3", "'and' needs a bool, got a number", "3", nil),
        ("lower(5)", "lower needs a string, got a number", "5", nil),
        ("starts_with(payload.s, 1)", "starts_with needs a string, got a number", "1", nil),
        ("length(true)", "length needs a string or an array, got a bool", "true", nil),
        ("'a' in 'abc'", "'in' needs an array, got a string", "'abc'", "test for a substring with contains()"),
        ("__lsn + 1", "'+' needs a number, got a string", "__lsn", nil),
        ("payload.n == '5' or 1 == '1'", "'==' between a number and a string is always false", "1 == '1'", "convert with int() or string()"),
        ("[1] < 2", "cannot order an array and a number with '<'", "[1] < 2", nil),
        ("-'x'", "'-' needs a number, got a string", "'x'", nil),
    ] as [(String, String, String, String?)])
    func reportsCertainMistakes(text: String, message: String, at part: String, hint: String?) throws {
        let errors = try Self.errors(text)
        #expect(errors.map(\.message) == [message])
        let scalars = Array(text.unicodeScalars)
        if let range = errors.first?.range {
            #expect(String(String.UnicodeScalarView(scalars[range])) == part)
        }
        if let hint { #expect(errors.first?.hint == hint) }
    }

    @Test func conditionsMustGiveABool() throws {
        #expect(try Self.errors("payload.amount > 1", asCondition: true).isEmpty)
        #expect(try Self.errors("payload.flag", asCondition: true).isEmpty)
        #expect(try Self.errors("payload.amount + 1", asCondition: true).map(\.message) == ["a condition must give true or false, this gives a number"])
        #expect(try Self.errors("'yes'", asCondition: true).count == 1)
        #expect(try Self.errors("null", asCondition: true).count == 1)
        #expect(try Self.errors("payload.amount + 1").isEmpty)
    }

    @Test func allMistakesAreReportedInOrder() throws {
        let errors = try Self.errors("lower(1) == upper(2)")
        #expect(errors.map(\.column) == [7, 19])
    }
}
