import BinaryIO
/// Bounds applied while decoding bytes that came from disk.
public struct DecodeLimits: Sendable, Hashable {
    /// Largest batch (header included) a reader accepts; a larger length prefix is damage.
    public var maxBatchBytes: Int
    /// Largest decompressed records section; beyond it decompression stops with an error.
    public var maxUncompressedBytes: Int

    public init(maxBatchBytes: Int = 64 << 20, maxUncompressedBytes: Int = 256 << 20) {
        self.maxBatchBytes = maxBatchBytes
        self.maxUncompressedBytes = maxUncompressedBytes
    }

    public static let `default` = DecodeLimits()
}

/// Who wrote a batch, for the idempotent/transactional fields of the header.
public struct ProducerIdentity: Hashable, Sendable, CustomStringConvertible {
    public var producerId: Int64
    public var epoch: Int16

    public init(producerId: Int64, epoch: Int16) {
        self.producerId = producerId
        self.epoch = epoch
    }

    public static let none = ProducerIdentity(producerId: -1, epoch: -1)
    public var description: String { "\(producerId)/\(epoch)" }
}

/// A batch's records section, encoded and compressed, with what its header needs from the
/// records (`BatchCodec.prepare`): everything but the offsets, the producer and the sequence.
public struct PreparedBatch: Sendable {
    public let section: [UInt8]
    public let compression: CompressionCodec
    public let count: Int
    public let baseTimestamp: Int64
    public let maxTimestamp: Int64
    /// The first record's `outflow.lsn`, for the log's LSN index.
    public let firstSourceLSN: UInt64?
}

/// Encodes and decodes Kafka RecordBatch v2.
public enum BatchCodec {
    /// Builds one batch. Compression applies to the records section as one zstd frame.
    public static func encode(
        _ records: [Record], baseOffset: Int64, producer: ProducerIdentity = .none, baseSequence: Int32 = -1,
        transactional: Bool = false, compression: CompressionCodec = .none, zstdLevel: Int32 = 3,
        partitionLeaderEpoch: Int32 = -1
    ) throws(SegmentLogError) -> [UInt8] {
        var encoded: [EncodedRecord] = []
        encoded.reserveCapacity(records.count)
        for record in records { encoded.append(try EncodedRecord(record)) }
        return assemble(
            try prepare(encoded, compression: compression, zstdLevel: zstdLevel), baseOffset: baseOffset, producer: producer,
            baseSequence: baseSequence, transactional: transactional, partitionLeaderEpoch: partitionLeaderEpoch)
    }

    /// The records section of a batch, compressed: the costly part of encoding, which depends
    /// on neither the offsets nor the producer, so it can be made on any thread.
    public static func prepare(_ records: [EncodedRecord], compression: CompressionCodec, zstdLevel: Int32) throws(SegmentLogError) -> PreparedBatch {
        guard !records.isEmpty else { throw SegmentLogError(.invalidArgument, "a batch needs at least one record") }
        guard compression == .none || compression == .zstd else {
            throw SegmentLogError(.unsupportedCompression, "Outflow writes only uncompressed or zstd batches, not \(compression)")
        }
        let baseTimestamp = records[0].timestamp
        var maxTimestamp = baseTimestamp
        var section: [UInt8] = []
        section.reserveCapacity(records.reduce(0) { $0 + 16 + $1.size })
        var prefix: [UInt8] = []
        for (index, record) in records.enumerated() {
            maxTimestamp = max(maxTimestamp, record.timestamp)
            prefix.removeAll(keepingCapacity: true)
            prefix.append(0)  // record attributes: unused
            prefix.appendVarlong(record.timestamp &- baseTimestamp)
            prefix.appendVarint(Int32(index))
            guard record.size <= Int(Int32.max) - prefix.count else {
                throw SegmentLogError(.invalidArgument, "a record of \(record.size) bytes is larger than Kafka's format allows")
            }
            section.appendVarint(Int32(prefix.count + record.size))
            section.append(contentsOf: prefix)
            section.append(contentsOf: record.body)
            section.append(contentsOf: record.trailer)
        }
        if compression == .zstd { section = try Zstd.compress(section, level: zstdLevel) }
        guard section.count <= Int(Int32.max) - BatchHeader.size else {
            throw SegmentLogError(.invalidArgument, "a batch of \(section.count) bytes is larger than Kafka's format allows")
        }
        return PreparedBatch(
            section: section, compression: compression, count: records.count, baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp,
            firstSourceLSN: records[0].sourceLSN)
    }

    /// The whole batch: `prepared` behind a header with the offsets and the producer.
    public static func assemble(
        _ prepared: PreparedBatch, baseOffset: Int64, producer: ProducerIdentity = .none, baseSequence: Int32 = -1,
        transactional: Bool = false, partitionLeaderEpoch: Int32 = -1
    ) -> [UInt8] {
        var attributes = prepared.compression.rawValue
        if transactional { attributes |= BatchHeader.transactionalFlag }
        return assemble(
            section: prepared.section, attributes: attributes, baseOffset: baseOffset, count: prepared.count,
            baseTimestamp: prepared.baseTimestamp, maxTimestamp: prepared.maxTimestamp, producer: producer,
            baseSequence: baseSequence, partitionLeaderEpoch: partitionLeaderEpoch)
    }

    /// A COMMIT or ABORT marker: one control record, never compressed, 78 bytes.
    public static func encodeControl(
        _ type: ControlType, baseOffset: Int64, producer: ProducerIdentity, timestamp: Int64,
        coordinatorEpoch: Int32 = 0, partitionLeaderEpoch: Int32 = -1
    ) -> [UInt8] {
        var key: [UInt8] = []
        key.appendInteger(Int16(0))
        key.appendInteger(type.rawValue)
        var value: [UInt8] = []
        value.appendInteger(Int16(0))
        value.appendInteger(coordinatorEpoch)
        // Cannot fail: key and value are small and there are no headers.
        let record = try! EncodedRecord(Record(key: key, value: value, timestamp: timestamp))
        var section: [UInt8] = []
        section.appendVarint(Int32(3 + record.body.count))
        section += [0, 0, 0]  // attributes, timestamp delta 0, offset delta 0
        section.append(contentsOf: record.body)
        return assemble(
            section: section, attributes: BatchHeader.transactionalFlag | BatchHeader.controlFlag,
            baseOffset: baseOffset, count: 1, baseTimestamp: timestamp, maxTimestamp: timestamp,
            producer: producer, baseSequence: -1, partitionLeaderEpoch: partitionLeaderEpoch)
    }

    private static func assemble(
        section: [UInt8], attributes: Int16, baseOffset: Int64, count: Int, baseTimestamp: Int64,
        maxTimestamp: Int64, producer: ProducerIdentity, baseSequence: Int32, partitionLeaderEpoch: Int32
    ) -> [UInt8] {
        let header = BatchHeader(
            baseOffset: baseOffset, batchLength: Int32(BatchHeader.size - BatchHeader.logOverhead + section.count),
            partitionLeaderEpoch: partitionLeaderEpoch, magic: 2, crc: 0, attributes: attributes,
            lastOffsetDelta: Int32(count - 1), baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp,
            producerId: producer.producerId, producerEpoch: producer.epoch, baseSequence: baseSequence,
            recordsCount: Int32(count))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(BatchHeader.size + section.count)
        header.encode(into: &bytes)
        bytes.append(contentsOf: section)
        bytes.setInteger(CRC32C.checksum(bytes, from: BatchHeader.crcStart), at: 17)
        return bytes
    }

    /// The same batch with its records section compressed again at `level`, for sealed
    /// segments (`SegmentRecompression`): every header field but the length and the CRC stays
    /// (offsets, timestamps, producer, epoch, sequence, transactional and control bits, codec),
    /// so a reader sees the same records. Control batches, batches not compressed with zstd,
    /// and batches the new level does not make smaller come back as they are.
    static func recompressed(_ batch: RecordBatch, level: Int32, limits: DecodeLimits) throws(SegmentLogError) -> [UInt8] {
        let header = batch.header
        guard !header.isControl, header.compression == .zstd else { return batch.bytes }
        let plain = try Zstd.decompress(batch.bytes, from: BatchHeader.size, to: batch.bytes.count, limit: limits.maxUncompressedBytes)
        let section = try Zstd.compress(plain, level: level)
        guard section.count < batch.bytes.count - BatchHeader.size else { return batch.bytes }
        var rewritten = header
        rewritten.batchLength = Int32(BatchHeader.size - BatchHeader.logOverhead + section.count)
        rewritten.crc = 0
        var bytes: [UInt8] = []
        bytes.reserveCapacity(BatchHeader.size + section.count)
        rewritten.encode(into: &bytes)
        bytes.append(contentsOf: section)
        bytes.setInteger(CRC32C.checksum(bytes, from: BatchHeader.crcStart), at: 17)
        return bytes
    }

    // MARK: Decoding

    /// Checks that `bytes` is exactly one well-formed batch with a good CRC.
    public static func decodeBatch(_ bytes: [UInt8], limits: DecodeLimits = .default) throws(SegmentLogError) -> RecordBatch {
        let header = try BatchHeader.parse(bytes)
        guard header.sizeInBytes == bytes.count else {
            throw SegmentLogError(.malformedBatch, "batch length \(header.batchLength) does not match \(bytes.count) bytes")
        }
        guard header.sizeInBytes <= limits.maxBatchBytes else {
            throw SegmentLogError(.malformedBatch, "batch of \(header.sizeInBytes) bytes exceeds the \(limits.maxBatchBytes)-byte limit")
        }
        let batch = RecordBatch(header: header, bytes: bytes)
        guard batch.computedCRC == header.crc else {
            throw SegmentLogError(.crcMismatch, "batch at offset \(header.baseOffset): stored CRC \(hex(header.crc)), computed \(hex(batch.computedCRC))")
        }
        return batch
    }

    static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16, uppercase: true) }

    static func decodeRecords(_ batch: RecordBatch, limits: DecodeLimits) throws(SegmentLogError) -> [StoredRecord] {
        let header = batch.header
        var payload = batch.bytes
        var start = BatchHeader.size
        switch header.compression {
        case .none?:
            break
        case .zstd?:
            payload = try Zstd.decompress(batch.bytes, from: BatchHeader.size, to: batch.bytes.count, limit: limits.maxUncompressedBytes)
            start = 0
        default:
            throw SegmentLogError(.unsupportedCompression, "compression codec \(header.compressionCode) is not supported (only none and zstd)")
        }
        var reader = ByteReader(payload, from: start)
        // Every record takes at least 7 bytes, so a count beyond that is damage; checked
        // before the loop so a huge count cannot make us spin or allocate.
        guard Int(header.recordsCount) <= reader.remaining / 7 + 1 else {
            throw SegmentLogError(.malformedBatch, "\(header.recordsCount) records cannot fit in \(reader.remaining) bytes")
        }
        var records: [StoredRecord] = []
        for _ in 0..<header.recordsCount {
            records.append(try decodeRecord(&reader, header: header))
        }
        guard reader.isAtEnd else {
            throw SegmentLogError(.malformedBatch, "\(reader.remaining) bytes left over after \(header.recordsCount) records")
        }
        return records
    }

    /// How much of a compressed records section `decodeFirstRecord` inflates first: records
    /// of outbox events are far smaller, and a longer first record costs a second pass.
    static let firstRecordPrefix = 16 * 1024

    /// The batch's first record (nil when it has none), decoding no more of the batch than
    /// that: indexing a batch needs only its first record's source LSN, and decoding every
    /// record was most of the time it took to open a log.
    static func decodeFirstRecord(_ batch: RecordBatch, limits: DecodeLimits) throws(SegmentLogError) -> StoredRecord? {
        let header = batch.header
        guard header.recordsCount > 0 else { return nil }
        switch header.compression {
        case .none?:
            var reader = ByteReader(batch.bytes, from: BatchHeader.size)
            return try decodeRecord(&reader, header: header)
        case .zstd?:
            let prefix = try Zstd.decompress(
                batch.bytes, from: BatchHeader.size, to: batch.bytes.count, limit: limits.maxUncompressedBytes, prefix: firstRecordPrefix)
            var reader = ByteReader(prefix)
            if prefix.count < firstRecordPrefix { return try decodeRecord(&reader, header: header) }
            // Cut off: the record must fit in what was inflated, or the whole section is needed.
            let length = Int(try reader.readVarint())
            if length >= 0 && length <= reader.remaining {
                reader = ByteReader(prefix)
                return try decodeRecord(&reader, header: header)
            }
            return try decodeRecords(batch, limits: limits).first
        default:
            throw SegmentLogError(.unsupportedCompression, "compression codec \(header.compressionCode) is not supported (only none and zstd)")
        }
    }

    /// The record at `reader` (its length, then its body) in a records section of a batch
    /// with `header`.
    private static func decodeRecord(_ reader: inout ByteReader, header: BatchHeader) throws(SegmentLogError) -> StoredRecord {
        let length = Int(try reader.readVarint())
        guard length >= 0 else { throw SegmentLogError(.malformedBatch, "negative record length \(length)") }
        try reader.require(length, "record")
        // The record is read in place, up to `end`, rather than by a reader of its own: a
        // second reader per record cost a retain and release of the batch's bytes each.
        let end = reader.index + length
        _ = try reader.readByte("record attributes")
        let timestampDelta = try reader.readVarlong()
        let offsetDelta = try reader.readVarint()
        guard offsetDelta >= 0, offsetDelta <= header.lastOffsetDelta else {
            throw SegmentLogError(.malformedBatch, "record offset delta \(offsetDelta) outside 0...\(header.lastOffsetDelta)")
        }
        let logAppendTime = header.attributes & 0x08 != 0
        let timestamp = logAppendTime ? header.maxTimestamp : header.baseTimestamp &+ timestampDelta
        return StoredRecord(offset: header.baseOffset + Int64(offsetDelta), record: try decodeBody(&reader, end: end, timestamp: timestamp))
    }

    /// A record's key, value and headers: the rest of `body` up to the index `end` (its end
    /// when nil), which must end with them. A field that runs past `end` is caught there.
    static func decodeBody(_ body: inout ByteReader, end: Int? = nil, timestamp: Int64) throws(SegmentLogError) -> Record {
        let end = end ?? body.bytes.endIndex
        let key = try readField(&body)
        let value = try readField(&body)
        let headerCount = Int(try body.readVarint())
        guard headerCount >= 0, headerCount <= (end - body.index) / 2 else {
            throw SegmentLogError(.malformedBatch, "header count \(headerCount) does not fit the record")
        }
        var headers: [RecordHeader] = []
        for _ in 0..<headerCount {
            guard let keyBytes = try readField(&body) else {
                throw SegmentLogError(.malformedBatch, "null header key")
            }
            headers.append(RecordHeader(key: String(decoding: keyBytes, as: UTF8.self), value: try readField(&body)))
        }
        guard body.index == end else {
            throw SegmentLogError(
                .malformedBatch,
                body.index < end ? "\(end - body.index) bytes left over in a record" : "a record's fields run \(body.index - end) bytes past its end")
        }
        return Record(key: key, value: value, headers: headers, timestamp: timestamp)
    }

    private static func readField(_ reader: inout ByteReader) throws(SegmentLogError) -> [UInt8]? {
        let length = Int(try reader.readVarint())
        if length == -1 { return nil }
        guard length >= 0 else { throw SegmentLogError(.malformedBatch, "negative field length \(length)") }
        return Array(try reader.readBytes(count: length, "record field"))
    }
}

/// The two transaction markers of Kafka's control records (types 2+ are KRaft internals).
public enum ControlType: Int16, Sendable, CustomStringConvertible {
    case abort = 0
    case commit = 1

    public var description: String { self == .abort ? "ABORT" : "COMMIT" }
}

/// The decoded control record of a control batch.
public struct ControlMarker: Hashable, Sendable {
    /// The raw type: 0 ABORT, 1 COMMIT; other values are left alone by readers.
    public var rawType: Int16
    public var coordinatorEpoch: Int32
    public var type: ControlType? { ControlType(rawValue: rawType) }
}

/// One batch as stored: its header and exactly its bytes (CRC already checked).
public struct RecordBatch: Sendable {
    public let header: BatchHeader
    public let bytes: [UInt8]

    var computedCRC: UInt32 { CRC32C.checksum(bytes, from: BatchHeader.crcStart) }

    public func records(limits: DecodeLimits = .default) throws(SegmentLogError) -> [StoredRecord] {
        try BatchCodec.decodeRecords(self, limits: limits)
    }

    /// The first record alone (nil for an empty batch), without decoding the others.
    public func firstRecord(limits: DecodeLimits = .default) throws(SegmentLogError) -> StoredRecord? {
        try BatchCodec.decodeFirstRecord(self, limits: limits)
    }

    /// The marker of a control batch; nil for data batches.
    public func controlMarker() throws(SegmentLogError) -> ControlMarker? {
        guard header.isControl else { return nil }
        guard let record = try records().first, let key = record.key, key.count >= 4 else {
            throw SegmentLogError(.malformedBatch, "control batch at offset \(header.baseOffset) without a control key")
        }
        var keyReader = ByteReader(key)
        _ = try keyReader.readInteger(as: Int16.self)
        let type = try keyReader.readInteger(as: Int16.self)
        var epoch: Int32 = -1
        if let value = record.value, value.count >= 6 {
            var valueReader = ByteReader(value)
            _ = try valueReader.readInteger(as: Int16.self)
            epoch = try valueReader.readInteger(as: Int32.self)
        }
        return ControlMarker(rawType: type, coordinatorEpoch: epoch)
    }
}
