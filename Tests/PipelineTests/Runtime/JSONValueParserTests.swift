import Foundation
import Pipeline
import Testing

@Suite struct JSONValueParserTests {
    @Test func parsesEveryKindOfValueExactly() throws {
        let value = try JSONValueParser.parse(#"""
             {"total": 10.50, "count": 3, "big": 18446744073709551616, "neg": -9223372036854775808,
              "ok": true, "no": false, "none": null, "tags": ["a", "\u00e9\ud83d\ude00", "\"q\"\n"], "nested": {"x": []}, "e": 1e2}
            """#)
        guard case .object(let members) = value else { Issue.record("an object"); return }
        #expect(members["total"] == .decimal(Decimal(string: "10.50")!))
        #expect(members["count"] == .int(3))
        #expect(members["big"] == .decimal(Decimal(string: "18446744073709551616")!))
        #expect(members["neg"] == .int(.min))
        #expect(members["ok"] == .bool(true) && members["no"] == .bool(false) && members["none"] == .null)
        #expect(members["tags"] == .array([.string("a"), .string("é😀"), .string("\"q\"\n")]))
        #expect(members["nested"] == .object(["x": .array([])]))
        #expect(members["e"] == .decimal(100))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "tru", "nul", "\"abc", "\"\\x\"", "\"\\ud800\"",
        "\"\u{01}\"", "[1] 2", "{a:1}", "'a'", "NaN", "[" + String(repeating: "[", count: 600) + "]",
    ])
    func rejectsWhatIsNotJSON(text: String) {
        #expect(throws: JSONValueParser.SyntaxError.self) { try JSONValueParser.parse(text) }
    }

    @Test func reportsWhereTheInputWentWrong() {
        let error = #expect(throws: JSONValueParser.SyntaxError.self) { try JSONValueParser.parse(#"{"a": [1, 2 3]}"#) }
        #expect(error?.offset == 12)
    }

    /// Random documents printed by Foundation's serializer parse back to the same structure.
    @Test func agreesWithFoundationOnRandomDocuments() throws {
        var random = SystemRandomNumberGenerator()
        func document(_ depth: Int) -> Any {
            switch depth > 3 ? Int.random(in: 0...3, using: &random) : Int.random(in: 0...5, using: &random) {
            case 0: return Int.random(in: -1_000_000...1_000_000, using: &random)
            case 1: return String((0..<Int.random(in: 0...8, using: &random)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &random))) }) + "é\n\u{1F600}"
            case 2: return Bool.random(using: &random)
            case 3: return NSNull()
            case 4: return (0..<Int.random(in: 0...4, using: &random)).map { _ in document(depth + 1) }
            default: return Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0...4, using: &random)).map { ("k\($0)", document(depth + 1)) })
            }
        }
        func expected(_ any: Any) -> EventValue {
            switch any {
            case let value as Bool where type(of: any) == Bool.self: .bool(value)
            case let value as Int: .int(Int64(value))
            case let value as String: .string(value)
            case is NSNull: .null
            case let values as [Any]: .array(values.map(expected))
            case let members as [String: Any]: .object(members.mapValues(expected))
            default: .null
            }
        }
        for _ in 0..<500 {
            let root: [String: Any] = ["root": document(0)]
            let data = try JSONSerialization.data(withJSONObject: root)
            #expect(try JSONValueParser.parse(Array(data)) == expected(root))
        }
    }
}
