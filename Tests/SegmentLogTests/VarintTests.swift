import BinaryIO
import Testing
@testable import SegmentLog

@Suite struct VarintTests {
    // Values and encodings from the protobuf sint32/sint64 (zigzag) specification.
    static let cases: [(Int64, [UInt8])] = [
        (0, [0x00]), (-1, [0x01]), (1, [0x02]), (-2, [0x03]), (63, [0x7E]), (-64, [0x7F]),
        (64, [0x80, 0x01]), (300, [0xD8, 0x04]), (Int64(Int32.max), [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]),
        (Int64(Int32.min), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    @Test(arguments: cases)
    func varintEncodings(value: Int64, encoding: [UInt8]) throws {
        var out: [UInt8] = []
        out.appendVarint(Int32(value))
        #expect(out == encoding)
        #expect(varintSize(Int32(value)) == encoding.count)
        var reader = SegmentLog.ByteReader(encoding)
        #expect(try reader.readVarint() == Int32(value))
        #expect(reader.isAtEnd)
    }

    @Test func varlongExtremesRoundTrip() throws {
        for value in [Int64.min, Int64.max, 0, -1, 1 << 40, -(1 << 40)] {
            var out: [UInt8] = []
            out.appendVarlong(value)
            #expect(out.count == varlongSize(value))
            var reader = SegmentLog.ByteReader(out)
            #expect(try reader.readVarlong() == value)
        }
        var max: [UInt8] = []
        max.appendVarlong(Int64.min)
        #expect(max.count == 10)
    }

    @Test func overlongAndTruncatedVarintsAreTypedErrors() {
        var overlong = SegmentLog.ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect { try overlong.readVarint() } throws: { ($0 as? SegmentLogError)?.code == .malformedVarint }
        var overlongLong = SegmentLog.ByteReader([UInt8](repeating: 0xFF, count: 10) + [0x01])
        #expect { try overlongLong.readVarlong() } throws: { ($0 as? SegmentLogError)?.code == .malformedVarint }
        var truncated = SegmentLog.ByteReader([0x80, 0x80])
        #expect { try truncated.readVarint() } throws: { ($0 as? SegmentLogError)?.code == .truncated }
    }
}
