import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct KafkaReaderTests {
    // Varint encodings from the protocol guide's definition (LEB128, 7 bits a byte, low first).
    @Test(arguments: [
        (UInt32(0), "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"),
        (16_383, "ff7f"), (16_384, "808001"), (UInt32.max, "ffffffff0f"),
    ])
    func unsignedVarint(value: UInt32, encoding: String) throws {
        #expect(hex(written(flexible: true) { $0.writeUnsignedVarint(value) }) == encoding)
        #expect(try read(bytes(hex: encoding), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readUnsignedVarint("v") } == value)
    }

    // Zigzag: 0 → 0, -1 → 1, 1 → 2, -2 → 3, ...
    @Test(arguments: [
        (Int32(0), "00"), (-1, "01"), (1, "02"), (-2, "03"), (63, "7e"), (-64, "7f"), (64, "8001"),
        (Int32.max, "feffffff0f"), (Int32.min, "ffffffff0f"),
    ])
    func zigzagVarint(value: Int32, encoding: String) throws {
        #expect(hex(written(flexible: true) { $0.writeVarint(value) }) == encoding)
        #expect(try read(bytes(hex: encoding), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readVarint("v") } == value)
    }

    @Test(arguments: [Int64(0), -1, 1, Int64(Int32.max) + 1, Int64.max, Int64.min, -123_456_789_012])
    func zigzagVarlongRoundTrip(value: Int64) throws {
        let encoded = written(flexible: true) { $0.writeVarlong(value) }
        #expect(encoded.readableBytes <= 10)
        #expect(try read(encoded, flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readVarlong("v") } == value)
    }

    @Test func varintsLongerThanTheirTypeAreRejected() {
        // Six bytes, or a fifth byte with bits above bit 31.
        for encoding in ["ffffffffff01", "ffffffff10", "8080808080"] {
            let error = protocolError { () throws(KafkaProtocolError) in
                try read(bytes(hex: encoding), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readUnsignedVarint("v") }
            }
            #expect(error?.code == .invalidValue, "\(encoding)")
        }
        let long = protocolError { () throws(KafkaProtocolError) in
            try read(bytes(hex: "ffffffffffffffffff02"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readUnsignedVarlong("v") }
        }
        #expect(long?.code == .invalidValue)
    }

    @Test func classicAndCompactStrings() throws {
        // Classic: Int16 length; null is -1. Compact: varint of length + 1; null is 0.
        #expect(hex(written(flexible: false) { $0.writeString("abc") }) == "0003616263")
        #expect(hex(written(flexible: false) { $0.writeNullableString(nil) }) == "ffff")
        #expect(hex(written(flexible: true) { $0.writeString("abc") }) == "04616263")
        #expect(hex(written(flexible: true) { $0.writeNullableString(nil) }) == "00")
        #expect(hex(written(flexible: true) { $0.writeNullableString("") }) == "01")
        // The header's client id keeps the classic length in flexible messages.
        #expect(hex(written(flexible: true) { $0.writeString("ab", compact: false) }) == "00026162")

        #expect(try read(bytes(hex: "0003616263"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readString("s") } == "abc")
        #expect(try read(bytes(hex: "ffff"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readNullableString("s") } == nil)
        #expect(try read(bytes(hex: "04616263"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readString("s") } == "abc")
        #expect(try read(bytes(hex: "00"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readNullableString("s") } == nil)
    }

    @Test func stringErrors() {
        func code(_ encoding: String, flexible: Bool) -> KafkaProtocolError.Code? {
            protocolError { () throws(KafkaProtocolError) in
                try read(bytes(hex: encoding), flexible: flexible) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readString("s") }
            }?.code
        }
        #expect(code("ffff", flexible: false) == .unexpectedNull)
        #expect(code("00", flexible: true) == .unexpectedNull)
        #expect(code("fffe", flexible: false) == .invalidLength)
        #expect(code("000461", flexible: false) == .invalidLength)
        #expect(code("7fff", flexible: false) == .invalidLength)
        #expect(code("0561", flexible: true) == .invalidLength)
        #expect(code("0002c328", flexible: false) == .invalidUTF8)
        #expect(code("00", flexible: false) == .truncated)
        #expect(code("", flexible: true) == .truncated)
    }

    @Test func bytesAndArrays() throws {
        let payload = buffer([1, 2, 3])
        #expect(hex(written(flexible: false) { $0.writeBytes(payload) }) == "00000003010203")
        #expect(hex(written(flexible: true) { $0.writeBytes(payload) }) == "04010203")
        #expect(hex(written(flexible: false) { $0.writeNullableBytes(nil) }) == "ffffffff")
        #expect(hex(written(flexible: false) { $0.writeInt32Array([1, -1]) }) == "0000000200000001ffffffff")
        #expect(hex(written(flexible: true) { $0.writeInt32Array([1]) }) == "0200000001")

        #expect(try read(bytes(hex: "00000003010203"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readBytes("b") } == payload)
        #expect(try read(bytes(hex: "0200000001"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readInt32Array("a") } == [1])
        #expect(try read(bytes(hex: "ffffffff"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readNullableBytes("b") } == nil)
    }

    @Test func countsTheInputCannotHoldAreRejectedBeforeAllocating() {
        // 2^31-1 Int32 elements announced with 4 bytes left: rejected from the count alone.
        let error = protocolError { () throws(KafkaProtocolError) in
            try read(bytes(hex: "7fffffff00000000"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readInt32Array("a") }
        }
        #expect(error?.code == .invalidLength)
        #expect(error?.offset == 0)
        let negative = protocolError { () throws(KafkaProtocolError) in
            try read(bytes(hex: "fffffffe"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readInt32Array("a") }
        }
        #expect(negative?.code == .invalidLength)
        let compact = protocolError { () throws(KafkaProtocolError) in
            try read(bytes(hex: "ffffffff0f"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readBytes("b") }
        }
        #expect(compact?.code == .invalidLength)
    }

    @Test func taggedFieldsAreSkipped() throws {
        // Two tagged fields (tag 0, 2 bytes; tag 5, 1 byte), then an Int8 field.
        let value = try read(bytes(hex: "02 00 02 aabb 05 01 cc 07"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in
            try r.skipTaggedFields()
            return try r.readInteger("x", as: Int8.self)
        }
        #expect(value == 7)
        let oversized = protocolError { () throws(KafkaProtocolError) in
            try read(bytes(hex: "01 00 05 aabb"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.skipTaggedFields() }
        }
        #expect(oversized?.code == .invalidLength)
        #expect(oversized?.offset == 2)
        // Classic versions have no tagged fields: nothing is read.
        #expect(throws: Never.self) {
            try read(ByteBuffer(), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.skipTaggedFields() }
        }
    }

    @Test func uuidAndBoolean() throws {
        let id = KafkaUUID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10)
        #expect(hex(written(flexible: true) { $0.writeUUID(id) }) == "0102030405060708090a0b0c0d0e0f10")
        #expect(id.description == "0102030405060708090a0b0c0d0e0f10")
        #expect(try read(bytes(hex: "0102030405060708090a0b0c0d0e0f10"), flexible: true) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readUUID("id") } == id)
        let bad = protocolError { () throws(KafkaProtocolError) in
            try read(bytes(hex: "02"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readBool("b") }
        }
        #expect(bad?.code == .invalidValue)
    }

    @Test func trailingBytesAreAnError() {
        let error = protocolError { () throws(KafkaProtocolError) in
            try read(bytes(hex: "0001"), flexible: false) { (r: inout KafkaReader) throws(KafkaProtocolError) in try r.readInteger("x", as: Int8.self) }
        }
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 1)
    }
}
