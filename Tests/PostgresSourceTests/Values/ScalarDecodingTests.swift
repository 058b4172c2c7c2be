import Testing
import PostgresSource

extension Values {
    @Suite struct ScalarDecodingTests {
        @Test func booleansAreTheLettersTAndF() throws {
            #expect(try decodeValue("t", BuiltinTypeOID.bool) == .bool(true))
            #expect(try decodeValue("f", BuiltinTypeOID.bool) == .bool(false))
            for text in ["", "T", "true", "tt", "1"] {
                #expect(decodingError(text, BuiltinTypeOID.bool)?.code == .invalidValue)
            }
        }

        @Test func integersCoverTheWholeInt64Range() throws {
            #expect(try decodeValue("0", BuiltinTypeOID.int4) == .int(0))
            #expect(try decodeValue("-32768", BuiltinTypeOID.int2) == .int(-32768))
            #expect(try decodeValue("2147483647", BuiltinTypeOID.int4) == .int(2_147_483_647))
            #expect(try decodeValue("9223372036854775807", BuiltinTypeOID.int8) == .int(.max))
            #expect(try decodeValue("-9223372036854775808", BuiltinTypeOID.int8) == .int(.min))
            #expect(try decodeValue("4294967295", BuiltinTypeOID.oid) == .int(4_294_967_295))
        }

        @Test(arguments: ["", "-", "9223372036854775808", "-9223372036854775809", "1.0", " 1", "1 ", "+1", "1e3", "0x10", "١"])
        func malformedOrOverflowingIntegersAreErrors(text: String) {
            #expect(decodingError(text, BuiltinTypeOID.int8)?.code == .invalidValue)
        }

        @Test func numericsKeepTheirExactDigits() throws {
            let long = "-" + String(repeating: "9", count: 131_072) + "." + String(repeating: "0", count: 999) + "1"
            for text in ["0", "1.50", "-0.000", "123456789012345678901234567890.123456789012345678901234567890", long,
                         "NaN", "Infinity", "-Infinity"] {
                #expect(try decodeValue(text, BuiltinTypeOID.numeric) == .numeric(try #require(PGNumeric(text))))
                #expect(try decodeValue(text, BuiltinTypeOID.numeric).jsonFragment == "\"\(text)\"")
            }
            #expect(PGNumeric("NaN")?.isFinite == false)
            #expect(PGNumeric("1.5")?.isFinite == true)
        }

        @Test(arguments: ["", "-", ".5", "5.", "1e5", "+1", "nan", "inf", "1,5", "1.2.3", " 1", "--1"])
        func malformedNumericsAreErrors(text: String) {
            #expect(decodingError(text, BuiltinTypeOID.numeric)?.code == .invalidValue)
            #expect(PGNumeric(text) == nil)
        }

        @Test func floatsReadExactlyIncludingSpecials() throws {
            #expect(try decodeValue("1.1", BuiltinTypeOID.float8) == .float8(1.1))
            #expect(try decodeValue("-0", BuiltinTypeOID.float8) == .float8(-0.0))
            #expect(try decodeValue("1.7976931348623157e+308", BuiltinTypeOID.float8) == .float8(.greatestFiniteMagnitude))
            #expect(try decodeValue("5e-324", BuiltinTypeOID.float8) == .float8(.leastNonzeroMagnitude))
            #expect(try decodeValue("Infinity", BuiltinTypeOID.float8) == .float8(.infinity))
            guard case .float8(let nan) = try decodeValue("NaN", BuiltinTypeOID.float8) else {
                Issue.record("NaN is not a float8")
                return
            }
            #expect(nan.isNaN)
        }

        @Test func float4KeepsItsExact32BitValue() throws {
            // Postgres prints float4's largest value as 3.4028235e+38; read as a Double those
            // digits would be a different number.
            #expect(try decodeValue("3.4028235e+38", BuiltinTypeOID.float4) == .float4(.greatestFiniteMagnitude))
            #expect(try decodeValue("1.1", BuiltinTypeOID.float4) == .float4(1.1))
            // 1.1 as printed with extra_float_digits=3 by servers before 12.
            #expect(try decodeValue("1.10000002", BuiltinTypeOID.float4) == .float4(1.1))
            #expect(try decodeValue("1e-45", BuiltinTypeOID.float4) == .float4(.leastNonzeroMagnitude))
            #expect(try decodeValue("-Infinity", BuiltinTypeOID.float4) == .float4(-.infinity))
            #expect(try decodeValue("3.4028235e+38", BuiltinTypeOID.float4).jsonFragment == "3.4028235e+38")
        }

        @Test(arguments: ["", "nan", "inf", "infinity", "0x1p3", " 1", "1 ", "1e", "e5", ".", "-", "1..2"])
        func malformedFloatsAreErrors(text: String) {
            #expect(decodingError(text, BuiltinTypeOID.float8)?.code == .invalidValue)
        }

        @Test func textIsKeptAsSentAndMustBeUTF8() throws {
            #expect(try decodeValue("", BuiltinTypeOID.text) == .text(""))
            #expect(try decodeValue("padded  ", BuiltinTypeOID.bpchar) == .text("padded  "))
            #expect(try decodeValue("zoë 🐘 \u{0}\n", BuiltinTypeOID.varchar) == .text("zoë 🐘 \u{0}\n"))
            #expect(try decodeValue("NULL", BuiltinTypeOID.text) == .text("NULL"))
            let invalid: [UInt8] = [0x61, 0xC3, 0x28]
            #expect(throws: PostgresError.self) { try PGValueDecoder().decode(text: invalid, typeOID: BuiltinTypeOID.text) }
        }

        @Test func uuidsAreCanonicalLowerCase() throws {
            let value = try decodeValue("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", BuiltinTypeOID.uuid)
            guard case .uuid(let uuid) = value else {
                Issue.record("not a uuid: \(value)")
                return
            }
            #expect(uuid.description == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
            #expect(uuid.high == 0xa0ee_bc99_9c0b_4ef8)
            #expect(uuid.low == 0xbb6d_6bb9_bd38_0a11)
            #expect(uuid.bytes.first == 0xa0 && uuid.bytes.last == 0x11 && uuid.bytes.count == 16)
            for text in ["", "a0eebc999c0b4ef8bb6d6bb9bd380a11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
                         "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", "a0eebc99-9c0b4-ef8-bb6d-6bb9bd380a11"] {
                #expect(decodingError(text, BuiltinTypeOID.uuid)?.code == .invalidValue)
            }
        }

        @Test func jsonIsKeptByteForByte() throws {
            let text = #"{"b": [1, 2.50, "\u00e9\n"],   "a": null}"#
            #expect(try decodeValue(text, BuiltinTypeOID.json) == .json(text))
            #expect(try decodeValue(text, BuiltinTypeOID.jsonb) == .json(text))
            #expect(try decodeValue(text, BuiltinTypeOID.json).jsonFragment == text)
        }

        @Test func byteaReadsHexAndTheLegacyEscapeFormat() throws {
            #expect(try decodeValue("\\x", BuiltinTypeOID.bytea) == .bytea([]))
            #expect(try decodeValue("\\x00ff7F0a", BuiltinTypeOID.bytea) == .bytea([0x00, 0xFF, 0x7F, 0x0A]))
            #expect(try decodeValue("", BuiltinTypeOID.bytea) == .bytea([]))
            #expect(try decodeValue("ab\\\\c\\000\\377\\012", BuiltinTypeOID.bytea) == .bytea([0x61, 0x62, 0x5C, 0x63, 0, 0xFF, 0x0A]))
            for text in ["\\x0", "\\x0g", "\\", "\\4000", "\\01", "a\\b"] {
                #expect(decodingError(text, BuiltinTypeOID.bytea)?.code == .invalidValue)
            }
        }

        @Test func errorsNameTheTypeAndShowOnlyAnExcerpt() throws {
            let secret = "not-a-number-" + String(repeating: "s3cr3t", count: 100)
            let error = try #require(decodingError(secret, BuiltinTypeOID.int8))
            #expect(error.code == .invalidValue)
            #expect(error.message.contains("int8"))
            #expect(error.message.contains("(\(secret.utf8.count) bytes)"))
            #expect(error.message.count < 120)
            #expect(!error.message.contains(String(repeating: "s3cr3t", count: 4)))

            let control = try #require(decodingError("\u{1}\"x", BuiltinTypeOID.int4))
            #expect(control.message.contains(#""\x01\"x""#))
        }
    }

    @Suite struct UTF8ValidationTests {
        /// The decoder's own validator against the standard library's, on edge cases and on
        /// random byte strings biased towards multi-byte sequences.
        @Test func agreesWithTheStandardLibrary() throws {
            var cases: [[UInt8]] = [
                [], Array("plain ascii long enough for the fast path".utf8), Array("zoë 🐘 €".utf8),
                [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0x9F, 0xBF],
                [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xF5, 0x80, 0x80, 0x80], [0xFF],
                [0xE2, 0x82], Array("12345678".utf8) + [0x80], Array("1234567".utf8) + [0xC3], [0x80],
            ]
            var generator = SystemRandomNumberGenerator()
            let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5]
            for _ in 0..<20_000 {
                cases.append((0..<Int.random(in: 1...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            }
            for bytes in cases {
                let expected = String(validating: bytes, as: UTF8.self)
                let decoded = try? PGValueDecoder().decode(text: bytes, typeOID: BuiltinTypeOID.text)
                #expect(decoded == expected.map(PGValue.text), "\(bytes)")
            }
        }
    }
}

extension Values.ScalarDecodingTests {
    /// The entry points for the shapes a message buffer comes in all read the same bytes.
    @Test func everyInputShapeDecodesTheSame() throws {
        let message = Array("xx{1,NULL}yy".utf8)
        let slice = message[2..<10]
        let decoder = PGValueDecoder()
        let fromSlice = try decoder.decode(text: slice, typeOID: 1007)
        let fromBuffer = try message.withUnsafeBufferPointer { buffer in
            try decoder.decode(text: UnsafeBufferPointer(rebasing: buffer[2..<10]), typeOID: 1007)
        }
        let fromRaw = try message.withUnsafeBytes { raw in
            try decoder.decode(text: UnsafeRawBufferPointer(rebasing: raw[2..<10]), typeOID: 1007)
        }
        let fromString = try decoder.decode(text: "{1,NULL}", typeOID: 1007)
        let fromUTF8View = try decoder.decode(text: "{1,NULL}".utf8, typeOID: 1007)
        let expected = PGValue.array(PGArray(elementTypeOID: 23, dimensions: [.init(length: 2)], elements: [.int(1), .null]))
        #expect([fromSlice, fromBuffer, fromRaw, fromString, fromUTF8View] == Array(repeating: expected, count: 5))
        // An empty buffer without a base address is an empty value.
        #expect(try decoder.decode(text: UnsafeBufferPointer<UInt8>(start: nil, count: 0), typeOID: BuiltinTypeOID.text) == .text(""))
    }
}
