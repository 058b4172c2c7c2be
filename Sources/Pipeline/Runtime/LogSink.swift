import PGOutput
import SegmentLog

/// Turns events into records and appends them to the log writer: partitions by key with
/// Kafka's partitioner, stamps every record with its source position (`outflow.lsn`,
/// `outflow.xid`), and batches per partition so that a large transaction streams into the
/// open log transaction batch by batch instead of piling up in memory.
final class LogSink {
    let writer: LogWriter
    let partitionCount: Int32
    let batchRecords: Int
    let batchBytes: Int
    let pipelineName: String
    let databaseName: String
    private var buffers: [TopicPartition: [Record]] = [:]
    private var bufferedBytes = 0
    /// Records appended (or buffered) in the open log transaction.
    private(set) var recordsInTransaction = 0
    private(set) var recordsWritten = 0
    /// Sees each record as a JSON line (dry runs).
    var onRecord: ((String) -> Void)?
    /// Plain (non-transactional) appends: at-least-once and at-most-once. Otherwise every
    /// append goes into the open log transaction (exactly-once).
    var plain = false
    /// The highest source commit LSN appended (plain mode: what the log now holds).
    private(set) var highestAppended: LSN?
    private var highestBuffered: LSN?

    init(writer: LogWriter, partitionCount: Int32, batchRecords: Int = 2000, batchBytes: Int = 1 << 20, pipelineName: String, databaseName: String) {
        self.writer = writer
        self.partitionCount = max(1, partitionCount)
        self.batchRecords = batchRecords
        self.batchBytes = batchBytes
        self.pipelineName = pipelineName
        self.databaseName = databaseName
    }

    /// Adds one event leaving the stage graph. A change event that no stage turned into a
    /// record becomes a Debezium-style envelope.
    func write(_ event: PipelineEvent) throws(SinkError) {
        try write(prepare(event), origin: event.origin)
    }

    /// Everything of `event`'s record that does not depend on its source transaction's commit:
    /// a streamed transaction's events are prepared while it streams and written at its commit.
    func prepare(_ event: PipelineEvent) throws(SinkError) -> PendingRecord {
        var event = event
        var envelopeTail: DebeziumEnvelope.Tail?
        if event.topic == nil, let change = event.change {
            envelopeTail = DebeziumEnvelope.fillAwaitingCommit(&event, change: change, pipelineName: pipelineName)
        }
        guard let topic = event.topic else {
            throw SinkError(message: "an event reached the sink without a topic (table \(event.origin.table))")
        }
        let partition: Int32
        if let key = event.key {
            partition = Int32(KafkaPartitioner.partition(forKey: key, partitionCount: Int(partitionCount)))
        } else {
            // No key: keep a transaction's keyless records together.
            partition = Int32(event.origin.xid % UInt32(partitionCount))
        }
        let topicPartition = try self.topicPartition(topic, partition)
        var headers = event.headers
        if headers.contains(where: { $0.key == Self.lsnHeader || $0.key == Self.xidHeader }) {
            headers.removeAll { $0.key == Self.lsnHeader || $0.key == Self.xidHeader }
        }
        return PendingRecord(topicPartition: topicPartition, key: event.key, value: event.value, headers: headers, envelopeTail: envelopeTail)
    }

    /// Completes a prepared record with its source transaction's commit (`origin`: commit LSN,
    /// xid and time) and adds it to the log transaction.
    func write(_ pending: PendingRecord, origin: EventOrigin) throws(SinkError) {
        var value = pending.value
        if let tail = pending.envelopeTail {
            value = (value ?? []) + DebeziumEnvelope.tail(tail, origin: origin, pipelineName: pipelineName, databaseName: databaseName)
        }
        var headers = pending.headers
        let position = positionHeaders(of: origin)
        headers.append(position.lsn)
        headers.append(position.xid)
        let record = Record(key: pending.key, value: value, headers: headers, timestamp: origin.commitTime.unixMicroseconds / 1000)
        if let onRecord {
            onRecord(EventValue.object([
                "topic": .string(pending.topicPartition.topic), "partition": .int(Int64(pending.topicPartition.partition)),
                "key": pending.key.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null,
                "value": value.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null,
                "headers": .object(Dictionary(headers.map { ($0.key, $0.value.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null) }, uniquingKeysWith: { $1 })),
            ]).jsonText)
        }
        highestBuffered = max(highestBuffered ?? origin.commitLSN, origin.commitLSN)
        recordsInTransaction += 1
        try write(record, to: pending.topicPartition)
    }

    static let lsnHeader = "outflow.lsn"
    static let xidHeader = "outflow.xid"

    /// The last topic's partitions, validated once: consecutive records mostly share a topic,
    /// and validating the name is a scan of it per record otherwise.
    private var lastTopic: (name: String, partitions: [TopicPartition])?

    private func topicPartition(_ topic: String, _ partition: Int32) throws(SinkError) -> TopicPartition {
        if let lastTopic, lastTopic.name == topic { return lastTopic.partitions[Int(partition)] }
        do {
            let partitions = try (0..<partitionCount).map { (index: Int32) throws(SegmentLogError) in try TopicPartition(topic: topic, partition: index) }
            lastTopic = (topic, partitions)
            return partitions[Int(partition)]
        } catch {
            throw SinkError(message: "invalid topic \"\(topic)\": \(error)", isEventError: true)
        }
    }

    /// The source position headers of the last transaction: every record of a transaction
    /// carries the same two, so they are formatted once.
    private var lastPosition: (lsn: LSN, xid: UInt32, headers: (lsn: RecordHeader, xid: RecordHeader))?

    private func positionHeaders(of origin: EventOrigin) -> (lsn: RecordHeader, xid: RecordHeader) {
        if let lastPosition, lastPosition.lsn == origin.commitLSN, lastPosition.xid == origin.xid { return lastPosition.headers }
        let headers = (RecordHeader(key: Self.lsnHeader, value: origin.commitLSN.text), RecordHeader(key: Self.xidHeader, text: String(origin.xid)))
        lastPosition = (origin.commitLSN, origin.xid, headers)
        return headers
    }

    /// Adds a record prepared elsewhere (the changelog) to a given partition, in the same log
    /// transaction as the output.
    func write(_ record: Record, to topicPartition: TopicPartition) throws(SinkError) {
        buffers[topicPartition, default: []].append(record)
        bufferedBytes += (record.key?.count ?? 0) + (record.value?.count ?? 0) + 64
        if buffers[topicPartition]!.count >= batchRecords || bufferedBytes >= batchBytes {
            try flush()
        }
    }

    /// Appends everything buffered to the open log transaction (opening it if needed).
    func flush() throws(SinkError) {
        guard !buffers.isEmpty else { return }
        do {
            if !plain, !writer.isInTransaction { try writer.beginTransaction() }
            for (topicPartition, records) in buffers.sorted(by: { $0.key < $1.key }) {
                if plain {
                    _ = try writer.appendPlain(records, to: topicPartition)
                } else {
                    _ = try writer.append(records, to: topicPartition)
                }
                recordsWritten += records.count
            }
        } catch {
            throw SinkError(message: "writing to the log failed: \(error)", underlying: error)
        }
        buffers.removeAll(keepingCapacity: true)
        bufferedBytes = 0
        if let buffered = highestBuffered { highestAppended = max(highestAppended ?? buffered, buffered) }
        highestBuffered = nil
    }

    /// Flushes and commits the log transaction with `metadata`; nil when nothing was written.
    func commit(metadata: [UInt8]) throws(SinkError) -> CommitResult? {
        try flush()
        guard writer.isInTransaction else { return nil }
        do {
            let result = try writer.commit(metadata: metadata)
            recordsInTransaction = 0
            return result
        } catch {
            throw SinkError(message: "committing to the log failed: \(error)", underlying: error)
        }
    }

    /// Plain mode: the group's records are all appended (and durable or given up on).
    func resetTransactionCount() { recordsInTransaction = 0 }

    /// Drops what is buffered and aborts the open log transaction.
    func abort() throws(SinkError) {
        buffers.removeAll()
        bufferedBytes = 0
        highestBuffered = nil
        recordsInTransaction = 0
        guard writer.isInTransaction else { return }
        do { try writer.abort() } catch { throw SinkError(message: "aborting the log transaction failed: \(error)", underlying: error) }
    }
}

/// A record as far as it can be made before its source transaction commits: everything but
/// the position headers, the timestamp and, for a change envelope, the envelope's tail.
struct PendingRecord: Equatable {
    var topicPartition: TopicPartition
    var key: [UInt8]?
    var value: [UInt8]?
    /// Without `outflow.lsn` and `outflow.xid`.
    var headers: [RecordHeader]
    /// Set for a change envelope: its value still lacks the tail that names the commit.
    var envelopeTail: DebeziumEnvelope.Tail?
}

public struct SinkError: Error, CustomStringConvertible, @unchecked Sendable {
    public var message: String
    /// The event itself is at fault (it can go to the dead letters); otherwise the log is.
    public var isEventError = false
    public var underlying: (any Error)?
    public var description: String { message }
}
