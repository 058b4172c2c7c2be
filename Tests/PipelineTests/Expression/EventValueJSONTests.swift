import Foundation
import Testing
@testable import Pipeline

@Suite struct EventValueJSONTests {
    @Test func numbersStayExact() throws {
        let value = try EventValue(json: #"{"amount": 0.1, "big": 12345678901234567890, "n": -42, "e": 1e3, "pi": 3.14159265358979323846}"#)
        #expect(value.value(at: FieldPath(names: "amount")) == .decimal(Decimal(string: "0.1")!))
        #expect(value.value(at: FieldPath(names: "big")) == .decimal(Decimal(string: "12345678901234567890")!))
        #expect(value.value(at: FieldPath(names: "n")) == .int(-42))
        #expect(value.value(at: FieldPath(names: "e")) == .decimal(1000))
        #expect(value.value(at: FieldPath(names: "pi")) == .decimal(Decimal(string: "3.14159265358979323846")!))
        // 0.1 + 0.2 is exactly 0.3 here, unlike with doubles.
        let sum = try EventExpression.parse("payload.amount + 0.2 == 0.3").evaluate(on: TestEvent(fields: ["payload": value]))
        #expect(sum == .bool(true))
    }

    @Test func stringsArraysObjectsAndPaths() throws {
        let value = try EventValue(json: #" {"a": [1, {"b": "x\ny\u00e9\ud83d\ude00\"/"}], "t": true, "z": null} "#)
        #expect(value.value(at: FieldPath([.name("a"), .index(1), .name("b")])) == .string("x\nyé😀\"/"))
        #expect(value.value(at: FieldPath([.name("a"), .index(5)])) == nil)
        #expect(value.value(at: FieldPath(names: "t")) == .bool(true))
        #expect(value.value(at: FieldPath(names: "z")) == .null)
        #expect(value.value(at: FieldPath(names: "root", "a"), from: 1)?.typeName == "array")
        // What jsonText writes, parsing gives back.
        #expect(try EventValue(json: value.jsonText) == value)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "\"\u{01}\"", "tru", "[1] 2", "\"\\ud800\"", "1e"])
    func invalidJSONIsAnError(text: String) {
        #expect(throws: EventValueJSONError.self) { try EventValue(json: text) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        #expect(throws: EventValueJSONError.self) { try EventValue(json: String(repeating: "[", count: 100_000)) }
    }
}

@Suite struct EventValueLiteralTests {
    @Test func literalsBuildTheSameValuesAsJSON() throws {
        let literal: EventValue = ["id": "e-1", "n": 3, "ok": true, "tags": ["a", nil], "nested": ["x": -1]]
        #expect(literal == (try EventValue(json: #"{"id": "e-1", "n": 3, "ok": true, "tags": ["a", null], "nested": {"x": -1}}"#)))
    }
}
