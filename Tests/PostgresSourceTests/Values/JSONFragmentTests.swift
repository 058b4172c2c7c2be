import Foundation
import Testing
import PostgresSource

extension Values {
    @Suite struct JSONFragmentTests {
        @Test func scalars() throws {
            #expect(PGValue.null.jsonFragment == "null")
            #expect(PGValue.bool(true).jsonFragment == "true")
            #expect(PGValue.bool(false).jsonFragment == "false")
            #expect(PGValue.int(.min).jsonFragment == "-9223372036854775808")
            #expect(PGValue.int(.max).jsonFragment == "9223372036854775807")
            #expect(PGValue.int(0).jsonFragment == "0")
            #expect(PGValue.numeric(try #require(PGNumeric("-0.000"))).jsonFragment == "\"-0.000\"")
            #expect(PGValue.uuid(PGUUID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210)).jsonFragment
                == "\"01234567-89ab-cdef-fedc-ba9876543210\"")
        }

        @Test func floatsAreNumbersAndSpecialsAreStrings() throws {
            for value in [1.1, -0.0, 1e-5, 1e300, .greatestFiniteMagnitude, .leastNonzeroMagnitude, Double(Float(1.1)), 100] {
                let fragment = PGValue.float8(value).jsonFragment
                // Read back by an independent JSON reader: a number, the same Double.
                let parsed = try JSONSerialization.jsonObject(with: Data(fragment.utf8), options: .fragmentsAllowed)
                #expect((parsed as? NSNumber)?.doubleValue == value, "\(fragment)")
            }
            #expect(PGValue.float8(.nan).jsonFragment == "\"NaN\"")
            #expect(PGValue.float8(.infinity).jsonFragment == "\"Infinity\"")
            #expect(PGValue.float4(-.infinity).jsonFragment == "\"-Infinity\"")
            #expect(PGValue.float4(1.1).jsonFragment == "1.1")
        }

        @Test func stringsAreEscaped() throws {
            let text = "quote\" backslash\\ slash/ tab\t nl\n cr\r bs\u{8} ff\u{C} nul\u{0} esc\u{1B} del\u{7F} é 🐘 \u{2028}"
            let fragment = PGValue.text(text).jsonFragment
            #expect(fragment == #""quote\" backslash\\ slash/ tab\t nl\n cr\r bs\b ff\f nul\u0000 esc\u001b del"# + "\u{7F} é 🐘 \u{2028}\"")
            // And an independent JSON reader gets the text back.
            let parsed = try JSONSerialization.jsonObject(with: Data(fragment.utf8), options: .fragmentsAllowed)
            #expect(parsed as? String == text)
            #expect(PGValue.text("").jsonFragment == "\"\"")
        }

        @Test func byteaIsBase64() {
            // Expected strings from Python's base64.b64encode.
            #expect(PGValue.bytea([]).jsonFragment == "\"\"")
            #expect(PGValue.bytea(Array("a".utf8)).jsonFragment == "\"YQ==\"")
            #expect(PGValue.bytea(Array("ab".utf8)).jsonFragment == "\"YWI=\"")
            #expect(PGValue.bytea(Array("abc".utf8)).jsonFragment == "\"YWJj\"")
            #expect(PGValue.bytea([0, 1, 2, 255, 254]).jsonFragment == "\"AAEC//4=\"")
            let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            #expect(PGValue.bytea(bytes).jsonFragment == "\"\(Data(bytes).base64EncodedString())\"")
        }

        @Test func datesAndTimesInDebeziumShapes() throws {
            // 2024-02-29 is day 19782 of the Unix epoch (Python: date(2024,2,29) - date(1970,1,1)).
            #expect(try decodeValue("2024-02-29", BuiltinTypeOID.date).jsonFragment == "19782")
            #expect(try decodeValue("0001-01-01", BuiltinTypeOID.date).jsonFragment == "-719162")
            #expect(try decodeValue("infinity", BuiltinTypeOID.date).jsonFragment == "\"infinity\"")
            #expect(try decodeValue("-infinity", BuiltinTypeOID.date).jsonFragment == "\"-infinity\"")
            #expect(try decodeValue("13:45:06.78", BuiltinTypeOID.time).jsonFragment == "49506780000")
            // Python: (datetime(2024,2,29,13,45,0,123456) - datetime(1970,1,1)) in microseconds.
            #expect(try decodeValue("2024-02-29 13:45:00.123456", BuiltinTypeOID.timestamp).jsonFragment == "1709214300123456")
            #expect(try decodeValue("1900-01-01 00:00:00", BuiltinTypeOID.timestamp).jsonFragment == "-2208988800000000")
            #expect(try decodeValue("-infinity", BuiltinTypeOID.timestamp).jsonFragment == "\"-infinity\"")
        }

        @Test func timestamptzIsAnISO8601StringInUTC() throws {
            func json(_ text: String) throws -> String { try decodeValue(text, BuiltinTypeOID.timestamptz).jsonFragment }
            #expect(try json("2024-02-29 19:15:00.5+05:30") == "\"2024-02-29T13:45:00.5Z\"")
            #expect(try json("2024-02-29 13:45:00.123456+00") == "\"2024-02-29T13:45:00.123456Z\"")
            #expect(try json("2024-03-01 00:30:00+01") == "\"2024-02-29T23:30:00Z\"")
            #expect(try json("1970-01-01 00:00:00-00:00:01") == "\"1970-01-01T00:00:01Z\"")
            #expect(try json("0001-01-01 00:00:00+00") == "\"0001-01-01T00:00:00Z\"")
            #expect(try json("0001-12-31 23:00:00+00 BC") == "\"0000-12-31T23:00:00Z\"")
            #expect(try json("0002-06-15 00:00:00+00 BC") == "\"-0001-06-15T00:00:00Z\"")
            #expect(try json("12345-01-01 00:00:00+00") == "\"+12345-01-01T00:00:00Z\"")
            #expect(try json("infinity") == "\"infinity\"")
            // Cross-check against Foundation's formatter on an ordinary instant.
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(identifier: "UTC")
            let date = Date(timeIntervalSince1970: 1_709_214_300)
            #expect(try json("2024-02-29 13:45:00+00") == "\"\(formatter.string(from: date))\"")
        }

        @Test func timetzIsUTCTimeWithZ() throws {
            #expect(try decodeValue("13:45:06.000001-03:30:15", BuiltinTypeOID.timetz).jsonFragment == "\"17:15:21.000001Z\"")
            #expect(try decodeValue("01:00:00+05:30", BuiltinTypeOID.timetz).jsonFragment == "\"19:30:00Z\"")
        }

        @Test func intervalsAreDebeziumMicroDurations() throws {
            // Debezium's MicroDuration: a month is 365.25/12 = 30.4375 days = 2,629,800 s.
            #expect(try decodeValue("1 mon", BuiltinTypeOID.interval).jsonFragment == "2629800000000")
            #expect(try decodeValue("1 year", BuiltinTypeOID.interval).jsonFragment == "31557600000000")  // 365.25 days
            #expect(try decodeValue("1 year 2 mons 3 days 04:05:06.789", BuiltinTypeOID.interval).jsonFragment == "37091106789000")
            #expect(try decodeValue("-1 days +02:03:00", BuiltinTypeOID.interval).jsonFragment == "-79020000000")
            #expect(try decodeValue("infinity", BuiltinTypeOID.interval).jsonFragment == "\"infinity\"")
        }

        @Test func writesAppendToAnExistingBuffer() {
            var buffer = Array("{\"a\":".utf8)
            PGValue.int(7).writeJSON(into: &buffer)
            buffer.append(UInt8(ascii: "}"))
            #expect(String(decoding: buffer, as: UTF8.self) == "{\"a\":7}")
        }

        @Test func wholeArraysAreValidJSON() throws {
            let text = #"{{"a\"b","c\\d"},{NULL,"e\nf"}}"#.replacingOccurrences(of: "\\n", with: "\n")
            let fragment = try decodeValue(text, 1009).jsonFragment
            let parsed = try JSONSerialization.jsonObject(with: Data(fragment.utf8)) as? [[Any]]
            #expect(parsed?.count == 2)
            #expect(parsed?[0] as? [String] == ["a\"b", "c\\d"])
            #expect(parsed?[1][0] is NSNull)
            #expect(parsed?[1][1] as? String == "e\nf")
        }
    }
}

extension Values.JSONFragmentTests {
    @Test func jsonCanBeAStringAsDebeziumSendsIt() throws {
        let document = #"{"a": "x\"y", "b": [1]}"#
        let options = PGValue.JSONOptions(jsonAsString: true)
        let fragment = PGValue.json(document).jsonFragment(options: options)
        #expect(fragment == #""{\"a\": \"x\\\"y\", \"b\": [1]}""#)
        let parsed = try JSONSerialization.jsonObject(with: Data(fragment.utf8), options: .fragmentsAllowed)
        #expect(parsed as? String == document)
        // Inside arrays too.
        let array = PGValue.array(PGArray(elementTypeOID: BuiltinTypeOID.jsonb, dimensions: [.init(length: 1)], elements: [.json("[]")]))
        #expect(array.jsonFragment(options: options) == #"["[]"]"#)
        #expect(array.jsonFragment == "[[]]")
    }
}
