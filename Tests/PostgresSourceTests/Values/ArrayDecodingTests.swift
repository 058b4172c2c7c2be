import Testing
import PostgresSource

extension Values {
    @Suite struct ArrayDecodingTests {
        let int4Array: UInt32 = 1007
        let textArray: UInt32 = 1009

        @Test func oneDimensionWithNulls() throws {
            let array = try #require(try decodeValue("{1,2,NULL,-4}", int4Array).arrayValue)
            #expect(array.elementTypeOID == BuiltinTypeOID.int4)
            #expect(array.dimensions == [PGArray.Dimension(lowerBound: 1, length: 4)])
            #expect(array.elements == [.int(1), .int(2), .null, .int(-4)])
        }

        @Test func theEmptyArrayHasNoDimensions() throws {
            let array = try #require(try decodeValue("{}", int4Array).arrayValue)
            #expect(array.dimensions.isEmpty && array.elements.isEmpty)
            #expect(PGValue.array(array).jsonFragment == "[]")
        }

        @Test func quotedElementsUnescape() throws {
            let text = #"{"a,b","{braces}","say \"hi\"","back\\slash","",NULL,"NULL",null,"  spaced  ",plain,"zoë 🐘"}"#
            let array = try #require(try decodeValue(text, textArray).arrayValue)
            #expect(array.elements == [
                .text("a,b"), .text("{braces}"), .text("say \"hi\""), .text("back\\slash"), .text(""), .null, .text("NULL"),
                .null, .text("  spaced  "), .text("plain"), .text("zoë 🐘"),
            ])
        }

        @Test func unquotedElementsAsArrayInReadsThem() throws {
            // Whitespace around unquoted elements is not part of them; escaped characters are.
            let array = try #require(try decodeValue("{ a b , c\\,d ,e\\ , \\NULL}", textArray).arrayValue)
            #expect(array.elements == [.text("a b"), .text("c,d"), .text("e "), .text("NULL")])
        }

        @Test func multiDimensionalArraysAreRowMajor() throws {
            let array = try #require(try decodeValue("{{1,2,3},{4,NULL,6}}", int4Array).arrayValue)
            #expect(array.dimensions == [PGArray.Dimension(length: 2), PGArray.Dimension(length: 3)])
            #expect(array.elements == [.int(1), .int(2), .int(3), .int(4), .null, .int(6)])
            #expect(PGValue.array(array).jsonFragment == "[[1,2,3],[4,null,6]]")

            let cube = try #require(try decodeValue("{{{1},{2}},{{3},{4}}}", int4Array).arrayValue)
            #expect(cube.dimensions.map(\.length) == [2, 2, 1])
            #expect(PGValue.array(cube).jsonFragment == "[[[1],[2]],[[3],[4]]]")
        }

        @Test func explicitLowerBoundsAreKept() throws {
            let array = try #require(try decodeValue("[0:2]={7,8,9}", int4Array).arrayValue)
            #expect(array.dimensions == [PGArray.Dimension(lowerBound: 0, length: 3)])
            let matrix = try #require(try decodeValue("[-2:-1][3:4]={{1,2},{3,4}}", int4Array).arrayValue)
            #expect(matrix.dimensions == [PGArray.Dimension(lowerBound: -2, length: 2), PGArray.Dimension(lowerBound: 3, length: 2)])
            #expect(matrix.elements.count == 4)
        }

        @Test func elementsDecodeAsTheirType() throws {
            let uuids = try #require(try decodeValue("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}", 2951).arrayValue)
            #expect(uuids.elements == [.uuid(try #require(PGUUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))), .null])
            let timestamps = try #require(try decodeValue(#"{"2000-01-01 00:00:00+00",infinity}"#, 1185).arrayValue)
            #expect(timestamps.elements == [.timestamptz(.microseconds(sincePostgresEpoch: 0)), .timestamptz(.infinity)])
            let json = try #require(try decodeValue(#"{"{\"a\": 1}",NULL,"[1, 2]"}"#, 3807).arrayValue)
            #expect(json.elements == [.json(#"{"a": 1}"#), .null, .json("[1, 2]")])
            #expect(PGValue.array(json).jsonFragment == #"[{"a": 1},null,[1, 2]]"#)
            let bytea = try #require(try decodeValue(#"{"\\x00ff","\\x"}"#, 1001).arrayValue)
            #expect(bytea.elements == [.bytea([0, 255]), .bytea([])])
            let numerics = try #require(try decodeValue("{1.50,NaN,-Infinity}", 1231).arrayValue)
            #expect(PGValue.array(numerics).jsonFragment == #"["1.50","NaN","-Infinity"]"#)
        }

        @Test func boxArraysUseSemicolons() throws {
            let boxes = try #require(try decodeValue("{(1,1),(0,0);(2,2),(1,1)}", 1020).arrayValue)
            #expect(boxes.elements == [.text("(1,1),(0,0)"), .text("(2,2),(1,1)")])
        }

        @Test(arguments: [
            "", "{", "}", "{1,2", "{1,,2}", "{1,}", "{,1}", "{{1,2},{3}}", "{{1,2},3}", "{1,{2}}", "{{}}", "{1} x",
            "[1:2]={1,2,3}", "[1:3]={}", "[2:1]={1}", "[1:2]{1,2}", "[1:1][1:1]={1}", "{\"a}", "{a\"b\"}", "{1 2}",
            "{{{{{{{1}}}}}}}", "{\\", "1,2",
        ])
        func malformedArraysAreErrors(text: String) {
            #expect(decodingError(text, int4Array)?.code == .invalidValue)
        }

        @Test func elementErrorsNameTheElementType() throws {
            let error = try #require(decodingError("{1,x}", int4Array))
            #expect(error.message.contains("int4"))
        }

        @Test func sixDimensionsAreAllowed() throws {
            let array = try #require(try decodeValue("{{{{{{1}}}}}}", int4Array).arrayValue)
            #expect(array.dimensions.count == 6)
            #expect(PGValue.array(array).jsonFragment == "[[[[[[1]]]]]]")
        }

        @Test func deepNestingIsRefusedNotRecursedInto() throws {
            let deep = String(repeating: "{", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
            #expect(decodingError(deep, int4Array)?.code == .invalidValue)
        }
    }
}
