import BinaryIO
/// Compression codec in bits 0-2 of a batch's attributes.
public enum CompressionCodec: Int16, Sendable, CustomStringConvertible {
    case none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4

    public var description: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }
}

/// The fixed 61-byte header of a Kafka RecordBatch v2 (magic 2), big-endian.
public struct BatchHeader: Hashable, Sendable {
    public static let size = 61
    /// Bytes from `baseOffset` through `batchLength`: the part the length does not count.
    public static let logOverhead = 12
    /// Where the CRC-covered bytes begin (attributes onwards).
    static let crcStart = 21
    static let transactionalFlag: Int16 = 0x10
    static let controlFlag: Int16 = 0x20

    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordsCount: Int32

    public var sizeInBytes: Int { Int(batchLength) + Self.logOverhead }
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    public var nextOffset: Int64 { lastOffset + 1 }
    public var isTransactional: Bool { attributes & Self.transactionalFlag != 0 }
    public var isControl: Bool { attributes & Self.controlFlag != 0 }
    public var hasProducerId: Bool { producerId >= 0 }
    public var compressionCode: Int16 { attributes & 0x07 }
    public var compression: CompressionCodec? { CompressionCodec(rawValue: compressionCode) }
    public var lastSequence: Int32 {
        baseSequence < 0 ? -1 : Int32(truncatingIfNeeded: (Int64(baseSequence) + Int64(lastOffsetDelta)) % (Int64(Int32.max) + 1))
    }

    /// Parses the header at `start`; checks only what the header alone can tell.
    static func parse(_ bytes: [UInt8], at start: Int = 0) throws(SegmentLogError) -> BatchHeader {
        var reader = ByteReader(bytes, from: start)
        try reader.require(size, "batch header")
        let header = BatchHeader(
            baseOffset: try reader.readInteger(), batchLength: try reader.readInteger(),
            partitionLeaderEpoch: try reader.readInteger(), magic: try reader.readInteger(),
            crc: try reader.readInteger(), attributes: try reader.readInteger(),
            lastOffsetDelta: try reader.readInteger(), baseTimestamp: try reader.readInteger(),
            maxTimestamp: try reader.readInteger(), producerId: try reader.readInteger(),
            producerEpoch: try reader.readInteger(), baseSequence: try reader.readInteger(),
            recordsCount: try reader.readInteger())
        try header.validate()
        return header
    }

    /// Length and magic are read before anything else when scanning a file: enough to know
    /// where the batch ends, or that the bytes are not a batch at all.
    static func peekLength(_ bytes: [UInt8], at start: Int) throws(SegmentLogError) -> (length: Int32, magic: Int8) {
        var reader = ByteReader(bytes, from: start + 8)
        let length: Int32 = try reader.readInteger()
        try reader.skip(4, "batch header")
        let magic: Int8 = try reader.readInteger()
        return (length, magic)
    }

    func validate() throws(SegmentLogError) {
        guard magic == 2 else { throw SegmentLogError(.unsupportedMagic, "magic \(magic), only 2 is supported") }
        guard sizeInBytes >= Self.size else {
            throw SegmentLogError(.malformedBatch, "batch length \(batchLength) is shorter than a header")
        }
        guard lastOffsetDelta >= 0, recordsCount >= 0, baseOffset >= 0,
            baseOffset <= Int64.max - Int64(lastOffsetDelta)
        else {
            throw SegmentLogError(.malformedBatch, "impossible offsets: base \(baseOffset), lastOffsetDelta \(lastOffsetDelta), count \(recordsCount)")
        }
        guard attributes & ~0x7F == 0 else { throw SegmentLogError(.malformedBatch, "unknown attribute bits \(attributes)") }
    }

    func encode(into bytes: inout [UInt8]) {
        bytes.appendInteger(baseOffset)
        bytes.appendInteger(batchLength)
        bytes.appendInteger(partitionLeaderEpoch)
        bytes.appendInteger(magic)
        bytes.appendInteger(crc)
        bytes.appendInteger(attributes)
        bytes.appendInteger(lastOffsetDelta)
        bytes.appendInteger(baseTimestamp)
        bytes.appendInteger(maxTimestamp)
        bytes.appendInteger(producerId)
        bytes.appendInteger(producerEpoch)
        bytes.appendInteger(baseSequence)
        bytes.appendInteger(recordsCount)
    }
}
