import Testing

@testable import BinaryIO

typealias Reader = ByteReader<ByteReadError>

@Suite struct ByteReaderTests {
    @Test func readsBigEndianIntegersAndMovesOn() throws {
        var reader = Reader([0x01, 0x02, 0xFF, 0xFE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2A][...])
        #expect(try reader.readInteger(as: UInt16.self) == 0x0102)
        #expect(try reader.readInteger(as: Int16.self) == -2)
        #expect(try reader.readInteger(as: Int64.self) == 42)
        #expect(reader.isAtEnd)
        try reader.expectEnd()
    }

    @Test func runningShortThrowsTruncatedAtTheFieldAndDoesNotMove() throws {
        var reader = Reader([0, 0, 1][...])
        _ = try reader.readByte()
        #expect(throws: ByteReadError(.truncated, at: 1, "count needs 4 bytes, 2 left")) { try reader.readInteger("count", as: Int32.self) }
        #expect(reader.offset == 1)
        #expect(try reader.readInteger(as: UInt16.self) == 1)
        #expect(throws: ByteReadError(.truncated, at: 3, "tag needs 1 byte, 0 left")) { try reader.readByte("tag") }
    }

    @Test func offsetsCountFromTheSliceStartOrTheArrayStart() throws {
        let array: [UInt8] = [9, 9, 9, 1, 2]
        var sliceReader = Reader(array[3...])
        #expect(sliceReader.offset == 0)
        _ = try sliceReader.readByte()
        #expect(sliceReader.offset == 1)
        var arrayReader = Reader(array, from: 3)
        #expect(arrayReader.offset == 3)
        let error = #expect(throws: ByteReadError.self) { try arrayReader.readInteger(as: UInt32.self) }
        #expect(error?.offset == 3)
    }

    @Test func aRangeOutsideTheArrayIsClampedNotTrapped() throws {
        var reader = Reader([1, 2, 3], from: 5, to: 9)
        #expect(reader.remaining == 0)
        #expect(throws: ByteReadError.self) { try reader.readByte() }
        let bounded = Reader([1, 2, 3, 4], from: 1, to: 3)
        #expect(bounded.remaining == 2)
    }

    @Test func negativeLengthsAndCountsAreInvalid() throws {
        var reader = Reader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE][...])
        #expect(throws: ByteReadError(.invalidLength, at: 0, "len is negative (-1)")) { try reader.readLength("len") }
        var counts = Reader([0xFF, 0xFE][...])
        #expect(throws: ByteReadError(.invalidLength, at: 0, "n is negative (-2)")) { try counts.readCount16("n") }
        var count = Reader([0, 0, 0, 1][...])
        #expect(throws: ByteReadError.self) { try count.readBytes(count: -1) }
    }

    @Test func requireRoomRejectsCountsTheBytesCannotHoldIncludingOverflow() throws {
        let reader = Reader([1, 2, 3, 4][...])
        try reader.requireRoom(forItems: 2, minimumBytes: 2, "items")
        #expect(throws: ByteReadError.self) { try reader.requireRoom(forItems: 3, minimumBytes: 2, "items") }
        #expect(throws: ByteReadError.self) { try reader.requireRoom(forItems: Int.max, minimumBytes: 2, "items") }
        #expect(throws: ByteReadError.self) { try reader.requireRoom(forItems: -1, minimumBytes: 1, "items") }
    }

    @Test func booleansAreZeroOrOne() throws {
        var reader = Reader([0, 1, 2][...])
        #expect(try reader.readBool("a") == false)
        #expect(try reader.readBool("b") == true)
        #expect(throws: ByteReadError(.invalidValue, at: 2, "c must be 0 or 1, found 2")) { try reader.readBool("c") }
    }

    @Test func stringsNeedTheirNulAndValidUTF8() throws {
        var reader = Reader(Array("ab\0".utf8)[...] + [0xC3, 0x28, 0])
        #expect(try reader.readString("name") == "ab")
        #expect(throws: ByteReadError(.invalidUTF8, at: 3, "bad is not valid UTF-8")) { try reader.readString("bad") }
        var open = Reader(Array("abc".utf8)[...])
        #expect(throws: ByteReadError(.unterminatedString, at: 0, "s has no terminating NUL in the 3 bytes left")) { try open.readString("s") }
    }

    @Test func byteRunsAreSlicesOfTheInput() throws {
        let input: [UInt8] = [0, 0, 0, 2, 7, 8, 9]
        var reader = Reader(input[...])
        let run = try reader.readLengthPrefixed(lengthAs: UInt32.self)
        #expect(Array(run) == [7, 8])
        #expect(run.startIndex == 4)
        #expect(Array(reader.readRest()) == [9])
        #expect(reader.isAtEnd)
    }

    @Test func aLengthPrefixCanMarkAbsence() throws {
        var bytes: [UInt8] = []
        bytes.appendLengthPrefixed(nil as [UInt8]?, lengthAs: UInt32.self, absent: .max)
        bytes.appendLengthPrefixed([UInt8]?([5]), lengthAs: UInt32.self, absent: .max)
        bytes.appendLengthPrefixed([UInt8]?([]), lengthAs: UInt32.self, absent: .max)
        var reader = Reader(bytes[...])
        #expect(try reader.readLengthPrefixed(lengthAs: UInt32.self, absent: .max) == nil)
        #expect(try reader.readLengthPrefixed(lengthAs: UInt32.self, absent: .max).map(Array.init) == [5])
        #expect(try reader.readLengthPrefixed(lengthAs: UInt32.self, absent: .max).map(Array.init) == [])
        try reader.expectEnd()
    }

    @Test func aLengthPrefixLongerThanTheRestIsTruncated() throws {
        var reader = Reader([0, 0, 0, 9, 1][...])
        let error = #expect(throws: ByteReadError.self) { try reader.readLengthPrefixed("payload", lengthAs: Int32.self) }
        #expect(error?.code == .truncated)
        #expect(error?.detail == "payload needs 9 bytes, 1 left")
    }

    @Test func expectEndNamesTheBytesLeft() throws {
        var reader = Reader([1, 2, 3][...])
        _ = try reader.readByte()
        #expect(throws: ByteReadError(.trailingBytes, at: 1, "2 bytes after the last field")) { try reader.expectEnd() }
    }

    @Test func peekDoesNotMove() throws {
        let reader = Reader([0, 1, 0, 2][...])
        #expect(try reader.peekInteger(as: UInt16.self) == 1)
        #expect(try reader.peekInteger(as: UInt16.self, skipping: 2) == 2)
        #expect(throws: ByteReadError.self) { try reader.peekInteger(as: UInt16.self, skipping: 3) }
        #expect(reader.offset == 0)
    }

    /// A module's own error comes out of the reader directly.
    struct ModuleError: ByteReadFailure, Equatable {
        var wrapped: ByteReadError
        init(_ error: ByteReadError) { wrapped = error }
    }

    @Test func throwsTheModulesOwnError() throws {
        var reader = ByteReader<ModuleError>([][...])
        #expect(throws: ModuleError(ByteReadError(.truncated, at: 0, "byte needs 1 byte, 0 left"))) { try reader.readByte() }
    }
}

@Suite struct VarintTests {
    static let int32Cases: [Int32] = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, .max, .min]
    static let int64Cases: [Int64] = [0, 1, -1, 63, -64, 1 << 31, -(1 << 31), .max, .min]

    @Test(arguments: int32Cases) func varintRoundTrips(_ value: Int32) throws {
        var bytes: [UInt8] = []
        bytes.appendVarint(value)
        #expect(bytes.count == varintSize(value))
        var reader = Reader(bytes[...])
        #expect(try reader.readVarint() == value)
        try reader.expectEnd()
    }

    @Test(arguments: int64Cases) func varlongRoundTrips(_ value: Int64) throws {
        var bytes: [UInt8] = []
        bytes.appendVarlong(value)
        #expect(bytes.count == varlongSize(value))
        var reader = Reader(bytes[...])
        #expect(try reader.readVarlong() == value)
        try reader.expectEnd()
    }

    @Test func zigzagPutsSmallMagnitudesInOneByte() {
        var bytes: [UInt8] = []
        bytes.appendVarint(-1)
        bytes.appendVarint(1)
        #expect(bytes == [0x01, 0x02])
        #expect(varintSize(.min) == 5)
        #expect(varlongSize(.min) == 10)
    }

    @Test func aVarintLongerThanItsTypeIsMalformed() throws {
        // Five bytes whose last one carries more than the 4 bits left of 32.
        var reader = Reader([0xFF, 0xFF, 0xFF, 0xFF, 0x1F][...])
        #expect(throws: ByteReadError(.malformedVarint, at: 4, "varint longer than 5 bytes")) { try reader.readVarint() }
        var long = Reader([UInt8](repeating: 0xFF, count: 9)[...] + [0x02])
        #expect(throws: ByteReadError(.malformedVarint, at: 9, "varlong longer than 10 bytes")) { try long.readVarlong() }
        // The longest valid encodings are accepted.
        var longest = Reader([0xFF, 0xFF, 0xFF, 0xFF, 0x0F][...])
        #expect(try longest.readVarint() == .min)
    }

    @Test func aVarintCutShortIsTruncated() throws {
        var reader = Reader([0x80, 0x80][...])
        let error = #expect(throws: ByteReadError.self) { try reader.readVarint() }
        #expect(error?.code == .truncated)
        #expect(error?.offset == 2)
    }
}

@Suite struct ByteWriterTests {
    @Test func integersAreBigEndianAndSetInPlace() {
        var bytes: [UInt8] = []
        bytes.appendInteger(UInt32(0x0102_0304))
        bytes.appendInteger(Int16(-2))
        #expect(bytes == [1, 2, 3, 4, 0xFF, 0xFE])
        bytes.setInteger(UInt16(0xABCD), at: 1)
        #expect(bytes == [1, 0xAB, 0xCD, 4, 0xFF, 0xFE])
    }

    @Test(arguments: [UInt64.min, 1, 0xFFFF_FFFF, .max])
    func writerAndReaderRoundTrip(_ value: UInt64) throws {
        var bytes: [UInt8] = []
        bytes.appendInteger(value)
        bytes.appendInteger(Int8(-3))
        bytes.appendLengthPrefixed(Array("key".utf8), lengthAs: Int16.self)
        bytes.appendVarlong(Int64(bitPattern: value))
        var reader = Reader(bytes[...])
        #expect(try reader.readInteger(as: UInt64.self) == value)
        #expect(try reader.readInteger(as: Int8.self) == -3)
        #expect(Array(try reader.readLengthPrefixed(lengthAs: Int16.self)) == Array("key".utf8))
        #expect(try reader.readVarlong() == Int64(bitPattern: value))
        try reader.expectEnd()
    }
}
