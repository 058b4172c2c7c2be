import BinaryIO
import Logging

/// Where a committed log transaction put its data in one partition.
public struct CommittedRange: Hashable, Sendable {
    public var topicPartition: TopicPartition
    public var firstOffset: Int64
    public var lastOffset: Int64
}

/// A durable commit record: the commit point of one log transaction. Stored as the value of
/// one record in the internal `__transactions` log (Kafka format, so its batches carry CRCs):
/// version int16 = 1, transaction id int64, producer id int64, epoch int16, timestamp int64,
/// partition count int32 and per partition (topic length int16, topic UTF-8, partition int32,
/// first offset int64, last offset int64), metadata length int32, metadata bytes.
public struct CommitRecord: Hashable, Sendable {
    /// Increases by one per committed log transaction of this log directory.
    public var transactionId: Int64
    public var producer: ProducerIdentity
    public var timestamp: Int64
    public var ranges: [CommittedRange]
    /// Opaque caller bytes (the pipeline's source position and dedupe state).
    public var metadata: [UInt8]

    static let version: Int16 = 1
    static let key = Array("commit".utf8)

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendInteger(Self.version)
        out.appendInteger(transactionId)
        out.appendInteger(producer.producerId)
        out.appendInteger(producer.epoch)
        out.appendInteger(timestamp)
        out.appendInteger(Int32(ranges.count))
        for range in ranges {
            let topic = Array(range.topicPartition.topic.utf8)
            out.appendInteger(Int16(topic.count))
            out.append(contentsOf: topic)
            out.appendInteger(range.topicPartition.partition)
            out.appendInteger(range.firstOffset)
            out.appendInteger(range.lastOffset)
        }
        out.appendInteger(Int32(metadata.count))
        out.append(contentsOf: metadata)
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(SegmentLogError) -> CommitRecord {
        var reader = ByteReader(bytes)
        let version: Int16 = try reader.readInteger()
        guard version == Self.version else { throw SegmentLogError(.corruptTransactionLog, "commit record version \(version)") }
        let id: Int64 = try reader.readInteger()
        let producer = ProducerIdentity(producerId: try reader.readInteger(), epoch: try reader.readInteger())
        let timestamp: Int64 = try reader.readInteger()
        let count = Int(try reader.readInteger(as: Int32.self))
        guard count >= 0, count <= reader.remaining / 22 else {
            throw SegmentLogError(.corruptTransactionLog, "commit record with \(count) partitions")
        }
        var ranges: [CommittedRange] = []
        for _ in 0..<count {
            let topicLength = Int(try reader.readInteger(as: Int16.self))
            let topic = String(decoding: try reader.readBytes(count: topicLength, "topic"), as: UTF8.self)
            let partition: Int32 = try reader.readInteger()
            let tp: TopicPartition
            do { tp = try TopicPartition(topic: topic, partition: partition) } catch {
                throw SegmentLogError(.corruptTransactionLog, "commit record names \(topic)-\(partition): \(error.message)")
            }
            ranges.append(CommittedRange(topicPartition: tp, firstOffset: try reader.readInteger(), lastOffset: try reader.readInteger()))
        }
        let metadataLength = Int(try reader.readInteger(as: Int32.self))
        let metadata = Array(try reader.readBytes(count: metadataLength, "metadata"))
        guard reader.isAtEnd else { throw SegmentLogError(.corruptTransactionLog, "bytes left over in a commit record") }
        return CommitRecord(transactionId: id, producer: producer, timestamp: timestamp, ranges: ranges, metadata: metadata)
    }
}

/// The internal `__transactions` log: one commit record per committed log transaction.
enum TransactionLog {
    static let directoryName = "__transactions"

    static func config(from base: LogConfig) -> LogConfig {
        var config = base
        config.compression = .none
        config.segmentBytes = min(base.segmentBytes, 64 << 20)
        config.retentionMilliseconds = nil
        // Never fewer than the active segment and the sealed one before it, which holds the
        // last commit record when the active segment is still empty.
        config.retentionBytes = 4 * config.segmentBytes
        return config
    }

    /// The newest commit record: the last batch of the newest segment that has one.
    /// `lastBatch` (a segment's base offset and the position of its last batch, known after a
    /// clean shutdown) reads that one batch instead of scanning the segment.
    static func lastCommit(
        in path: String, limits: DecodeLimits, lastBatch: (baseOffset: Int64, position: Int64)? = nil
    ) throws(SegmentLogError) -> CommitRecord? {
        let directory = SegmentDirectory(path: path)
        guard FileIO.exists(path) else { return nil }
        if let lastBatch, lastBatch.position >= 0 {
            let file = try FileHandleBox.readOnly(directory.files(lastBatch.baseOffset).log)
            var scanner = BatchScanner(file: file, from: lastBatch.position, fileSize: try file.size(), limits: limits)
            if case .batch(let found) = try scanner.next(), case .end = try scanner.next() {
                return try commitRecord(in: found.batch, path: file.path, limits: limits)
            }
            // Not where the marker said: scan as after any other open.
        }
        for base in try directory.baseOffsets().reversed() {
            let file = try FileHandleBox.readOnly(directory.files(base).log)
            var scanner = BatchScanner(file: file, from: 0, fileSize: try file.size(), limits: limits)
            var last: RecordBatch?
            scan: while true {
                switch try scanner.next() {
                case .batch(let found): last = found.batch
                case .end, .incomplete: break scan
                case .damaged(let position, let length, let error):
                    // A torn tail here is the writer's to repair; damage before valid data is not.
                    if try scanner.validBatchFollows(damageAt: position, length: length) {
                        throw SegmentLogError(.corruptTransactionLog, error.message, path: file.path, position: position)
                    }
                    break scan
                }
            }
            if let last { return try commitRecord(in: last, path: file.path, limits: limits) }
        }
        return nil
    }

    private static func commitRecord(in batch: RecordBatch, path: String, limits: DecodeLimits) throws(SegmentLogError) -> CommitRecord {
        guard let value = try batch.records(limits: limits).last?.value else {
            throw SegmentLogError(.corruptTransactionLog, "commit record without a value", path: path)
        }
        do { return try CommitRecord.decode(value) } catch { throw error.located(path: path, position: nil) }
    }
}
