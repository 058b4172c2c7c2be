import PGOutput
import PostgresSource
import SegmentLog

/// The log sink: turns events into records and appends them to the segment log. Partitions
/// by key with Kafka's partitioner, stamps every record with its source position
/// (`outflow.lsn`, `outflow.xid`), and batches per partition so that a large transaction
/// streams into the open log transaction batch by batch instead of piling up in memory.
/// Its checkpoints are the log's commit records; at-least-once's recorded position is the
/// `outflow.position` file beside the log.
public final class LogSink: Sink {
    let writer: LogWriter
    let partitionCount: Int32
    let batchRecords: Int
    let batchBytes: Int
    let pipelineName: String
    let databaseName: String
    private var buffers: [TopicPartition: [EncodedRecord]] = [:]
    private var bufferedBytes = 0
    public private(set) var recordsInGroup = 0
    public private(set) var groupBytes = 0
    /// Sees each record as a JSON line (dry runs).
    public var onRecord: ((String) -> Void)?
    public var transactional = true
    public private(set) var highestWritten: LSN?
    private var highestBuffered: LSN?

    public init(writer: LogWriter, partitionCount: Int32, batchRecords: Int = 2000, batchBytes: Int = 1 << 20, pipelineName: String, databaseName: String) {
        self.writer = writer
        self.partitionCount = max(1, partitionCount)
        self.batchRecords = batchRecords
        self.batchBytes = batchBytes
        self.pipelineName = pipelineName
        self.databaseName = databaseName
    }

    /// Where the log is, for messages.
    public var directory: String { writer.directory }

    /// Everything of `event`'s record that does not depend on its source transaction's commit:
    /// a streamed transaction's events are prepared while it streams and written at its commit.
    public func prepare(_ event: PipelineEvent) throws(SinkError) -> PendingRecord {
        var event = event
        var envelopeTail: DebeziumEnvelope.Tail?
        if event.topic == nil, let change = event.change {
            envelopeTail = DebeziumEnvelope.fillAwaitingCommit(&event, change: change, pipelineName: pipelineName)
        }
        guard let topic = event.topic else {
            throw SinkError(.storage, "an event reached the sink without a topic (table \(event.origin.table)): a stage must set one")
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
        if let envelopeTail {
            return PendingRecord(
                topicPartition: topicPartition, bodyPrefix: [],
                envelope: PendingEnvelope(key: event.key, valuePrefix: event.value ?? [], headers: headers, tail: envelopeTail))
        }
        return PendingRecord(topicPartition: topicPartition, bodyPrefix: try Self.bodyPrefix(key: event.key, value: event.value, headers: headers))
    }

    /// Key, value, the header count (the two position headers included) and `headers`, in the
    /// record format.
    static func bodyPrefix(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader]) throws(SinkError) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(16 + (key?.count ?? 0) + (value?.count ?? 0) + headers.reduce(0) { $0 + 8 + $1.key.utf8.count + ($1.value?.count ?? 0) })
        do {
            try EncodedRecord.appendField(key, to: &body)
            try EncodedRecord.appendField(value, to: &body)
            EncodedRecord.appendCount(headers.count + 2, to: &body)
            for header in headers { try EncodedRecord.appendHeader(key: header.key, value: header.value, to: &body) }
        } catch {
            throw SinkError(.invalidEvent, "the record cannot be encoded: \(error)", underlying: error)
        }
        return body
    }

    /// Completes a prepared record with its source transaction's commit and adds it to the log
    /// transaction.
    public func write(_ pending: PendingRecord, commit: SourceCommit) throws(SinkError) {
        var body = pending.bodyPrefix
        if let envelope = pending.envelope {
            let value = envelope.valuePrefix + tail(envelope.tail, commit: commit)
            body = try Self.bodyPrefix(key: envelope.key, value: value, headers: envelope.headers)
        }
        // The position headers end the record: one array for the whole transaction.
        let record = EncodedRecord(timestamp: commit.time.unixMicroseconds / 1000, body: body, trailer: positionHeaders.encoded(for: commit))
        if let onRecord { onRecord(Self.jsonLine(record, pending.topicPartition)) }
        highestBuffered = max(highestBuffered ?? commit.lsn, commit.lsn)
        recordsInGroup += 1
        try write(record, to: pending.topicPartition)
    }

    /// The last envelope tail made: a transaction's rows of one table (a snapshot chunk, a
    /// bulk insert) share it, and making it (a JSON object per record) was most of their cost.
    private var lastTail: (tail: DebeziumEnvelope.Tail, commit: SourceCommit, bytes: [UInt8])?

    private func tail(_ tail: DebeziumEnvelope.Tail, commit: SourceCommit) -> [UInt8] {
        if let lastTail, lastTail.tail == tail, lastTail.commit == commit { return lastTail.bytes }
        let bytes = DebeziumEnvelope.tail(tail, commit: commit, pipelineName: pipelineName, databaseName: databaseName)
        lastTail = (tail, commit, bytes)
        return bytes
    }

    /// A record as a JSON line (dry runs).
    static func jsonLine(_ encoded: EncodedRecord, _ topicPartition: TopicPartition) -> String {
        guard let record = try? encoded.decoded() else { return #"{"error":"the record does not decode"}"# }
        return EventValue.object([
            "topic": .string(topicPartition.topic), "partition": .int(Int64(topicPartition.partition)),
            "key": record.key.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null,
            "value": record.value.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null,
            "headers": .object(Dictionary(record.headers.map { ($0.key, $0.value.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null) }, uniquingKeysWith: { $1 })),
        ]).jsonText
    }

    static let lsnHeader = PositionHeaders.lsnKey
    static let xidHeader = PositionHeaders.xidKey

    /// The last topic's partitions, validated once: consecutive records mostly share a topic,
    /// and validating the name is a scan of it per record otherwise.
    private var lastTopic: (name: String, partitions: [TopicPartition])?

    private func topicPartition(_ topic: String, _ partition: Int32) throws(SinkError) -> TopicPartition {
        if let lastTopic, lastTopic.name == topic { return lastTopic.partitions[Int(partition)] }
        let partitions: [TopicPartition]
        do {
            partitions = try (0..<partitionCount).map { (index: Int32) throws(SegmentLogError) in try TopicPartition(topic: topic, partition: index) }
        } catch {
            throw SinkError(.invalidEvent, "invalid topic \"\(topic)\": \(error)", underlying: error)
        }
        try declare(topic)
        lastTopic = (topic, partitions)
        return partitions[Int(partition)]
    }

    /// Records the topic's partition count in the log, so readers (the Kafka endpoint's
    /// Metadata) list every partition, written or not.
    private func declare(_ topic: String) throws(SinkError) {
        do { try writer.declareTopic(topic, partitionCount: partitionCount) } catch {
            throw SinkError(.storage, "recording topic \"\(topic)\" in the log at \(writer.directory) failed: \(error)", underlying: error)
        }
    }

    /// The position headers of the last transaction, encoded once.
    private var positionHeaders = PositionHeaders()

    static let changelogPartition = try! TopicPartition(topic: ChangelogCodec.topic, partition: 0)

    public func writeChangelog(_ change: SourceChange, origin: EventOrigin) throws(SinkError) {
        let encoded: EncodedRecord
        do { encoded = try EncodedRecord(ChangelogCodec.record(for: change, origin: origin)) } catch {
            throw SinkError(.storage, "the changelog record cannot be encoded: \(error)", underlying: error)
        }
        try write(encoded, to: Self.changelogPartition)
    }

    private func write(_ record: EncodedRecord, to topicPartition: TopicPartition) throws(SinkError) {
        buffers[topicPartition, default: []].append(record)
        bufferedBytes += record.size + 16
        groupBytes += record.size + 16
        if buffers[topicPartition]!.count >= batchRecords || bufferedBytes >= batchBytes {
            try flush()
        }
    }

    public func flush() throws(SinkError) {
        guard !buffers.isEmpty else { return }
        do {
            if transactional, !writer.isInTransaction { try writer.beginTransaction() }
            let appends = buffers.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }
            if transactional {
                try writer.append(appends)
            } else {
                try writer.appendPlain(appends)
            }
        } catch {
            throw SinkError(.storage, "writing to the log at \(writer.directory) failed: \(error)", underlying: error)
        }
        buffers.removeAll(keepingCapacity: true)
        bufferedBytes = 0
        if let buffered = highestBuffered { highestWritten = max(highestWritten ?? buffered, buffered) }
        highestBuffered = nil
    }

    public func commit(_ checkpoint: Checkpoint) throws(SinkError) -> Bool {
        try flush()
        endGroup()
        guard writer.isInTransaction else { return false }
        do {
            _ = try writer.commit(metadata: checkpoint.encoded())
            return true
        } catch {
            throw SinkError(.storage, "committing to the log at \(writer.directory) failed: \(error)", underlying: error)
        }
    }

    public func sync(recording position: LSN?) throws(SinkError) {
        do { try writer.sync() } catch {
            throw SinkError(.storage, "syncing the log at \(writer.directory) failed: \(error)", underlying: error)
        }
        guard let position else { return }
        do { try SourcePositionFile.write(position, directory: writer.directory) } catch {
            throw SinkError(.storage, error.message, underlying: error)
        }
    }

    public func endGroup() {
        recordsInGroup = 0
        groupBytes = 0
    }

    public func abort() throws(SinkError) {
        buffers.removeAll()
        bufferedBytes = 0
        highestBuffered = nil
        endGroup()
        guard writer.isInTransaction else { return }
        do { try writer.abort() } catch {
            throw SinkError(.storage, "aborting the log transaction at \(writer.directory) failed: \(error)", underlying: error)
        }
    }

    public func lastCheckpoint() throws(SinkError) -> Checkpoint? {
        guard let metadata = writer.lastCommittedMetadata else { return nil }
        do { return try Checkpoint(decoding: metadata) } catch {
            throw SinkError(.unreadableState, "the log at \(writer.directory) holds a commit record Outflow cannot read: \(error)", underlying: error)
        }
    }

    public func checkpointHistory() throws(SinkError) -> [Checkpoint] {
        do {
            return try LogReader(directory: writer.directory).commitHistory().map { record in try Checkpoint(decoding: record.metadata) }
        } catch {
            throw SinkError(.unreadableState, "reading the checkpoints of the log at \(writer.directory) failed: \(error)", underlying: error)
        }
    }

    public func recordedPosition() throws(SinkError) -> LSN? {
        do { return try SourcePositionFile.read(directory: writer.directory) } catch {
            throw SinkError(.unreadableState, error.message, underlying: error)
        }
    }

    public func highestSourcePosition() throws(SinkError) -> LSN? {
        do { return try LogReader(directory: writer.directory).highestSourceLSN().map { LSN($0) } } catch {
            throw SinkError(.unreadableState, "reading the end of the log at \(writer.directory) failed: \(error)", underlying: error)
        }
    }
}

/// A record as far as it can be made before its source transaction commits: everything but
/// the position headers (which follow `bodyPrefix`) and the timestamp — and for a change
/// envelope the envelope's tail, which changes its value, so that one is kept in parts.
public struct PendingRecord: Equatable {
    var topicPartition: TopicPartition
    /// Key, value, header count and headers in the record format (`LogSink.bodyPrefix`);
    /// empty for an envelope.
    var bodyPrefix: [UInt8]
    var envelope: PendingEnvelope?
}

public struct PendingEnvelope: Equatable {
    var key: [UInt8]?
    /// The value up to its tail.
    var valuePrefix: [UInt8]
    /// Without `outflow.lsn` and `outflow.xid`.
    var headers: [RecordHeader]
    var tail: DebeziumEnvelope.Tail
}

extension LogSink {
    public convenience init(writer: LogWriter, settings: PipelineRunner.Settings) {
        self.init(
            writer: writer, partitionCount: settings.partitions, batchRecords: settings.batchRecords, batchBytes: settings.batchBytes,
            pipelineName: settings.pipelineName, databaseName: settings.databaseName)
    }
}
