import BinaryIO
import Foundation
import KafkaClient
import Logging
import PGOutput
import PostgresSource
import SegmentLog

/// The Kafka sink: the same records as the log sink — topic, key, value, headers, partition by
/// Kafka's murmur2 partitioner over the topic's partitions in the cluster, `outflow.lsn` /
/// `outflow.xid` — produced into a Kafka cluster through librdkafka.
///
/// Transactional (exactly-once): one Kafka transaction per group holds its records and a
/// checkpoint record (the `Checkpoint` bytes the log sink commits, keyed by the pipeline's name,
/// with the config hash in a header) in the checkpoint topic; `commit` returns only once Kafka
/// committed it, so the runner acknowledges nothing before. The transactional.id fences an older
/// instance of the pipeline when the sink starts, before it reads its checkpoint back
/// read_committed. Plain (at-least-once, at-most-once): an idempotent producer; `sync` waits
/// for every delivery report and then writes the checkpoint record.
///
/// Errors: retriable ones (brokers down, a coordinator moving, a timeout) are retried with
/// doubling backoff and a log line, never acknowledged ahead; an abortable one aborts the
/// transaction and produces the group again into a new one (it is kept in memory up to
/// `Settings.retainedBytesLimit`; beyond that the pipeline stops and its restart resumes from
/// the last committed checkpoint); fatal ones (fenced, refused credentials) stop the pipeline
/// with their code.
public final class KafkaSink: Sink {
    public struct Settings: Sendable {
        /// librdkafka producer properties: servers, security, compression, passthrough.
        public var producer: KafkaConfiguration
        /// Properties for reading the checkpoint topic (servers and security).
        public var reader: KafkaConfiguration
        public var transactionalID: String
        public var checkpointTopic: String
        public var pipelineName: String
        public var databaseName: String
        /// Identifies the pipeline file's settings; kept with each checkpoint.
        public var configHash: String
        /// How long one transactional call (init, commit, abort) waits before it is retried.
        public var callTimeout: Duration = .seconds(30)
        /// How long reading the checkpoint back and topic metadata may take.
        public var readTimeout: Duration = .seconds(60)
        /// An open transaction up to this size is kept, to produce it again after an abortable error.
        public var retainedBytesLimit = 64 << 20
        /// The longest pause between retries.
        public var maximumBackoff: Duration = .seconds(30)
        /// The replication factor of a checkpoint topic the sink creates; nil: min(3, brokers).
        public var checkpointReplicationFactor: Int?
        /// How long an admin request on the checkpoint topic may take: creating it (a failure
        /// stops the start), reading its configuration (advisory: a failure is a log line).
        public var adminTimeout: Duration = .seconds(15)
        /// How often librdkafka reports its statistics (brokers up, for the metrics).
        public var statisticsInterval: Duration = .seconds(1)

        public init(
            producer: KafkaConfiguration, reader: KafkaConfiguration, transactionalID: String, checkpointTopic: String, pipelineName: String,
            databaseName: String, configHash: String
        ) {
            self.producer = producer
            self.reader = reader
            self.transactionalID = transactionalID
            self.checkpointTopic = checkpointTopic
            self.pipelineName = pipelineName
            self.databaseName = databaseName
            self.configHash = configHash
        }
    }

    let settings: Settings
    let logger: Logger
    public var transactional = true
    /// Where the sink counts what Kafka acknowledged and what it retried (`outflow run`
    /// sets it when it serves /metrics).
    public var metrics: KafkaSinkMetrics?
    public private(set) var recordsInGroup = 0
    public private(set) var groupBytes = 0
    public private(set) var highestWritten: LSN?

    /// Made on first use, once `transactional` is known (it decides the producer's properties).
    private var producerInstance: KafkaProducer?
    private var checkpointReader: KafkaPartitionReader?
    private var inTransaction = false
    /// When the open transaction's first record was produced.
    private var transactionStart: ContinuousClock.Instant?
    /// The open transaction's records, to produce again after an abortable error; nil once it
    /// outgrew `retainedBytesLimit`.
    private var retained: [KafkaRecord]? = []
    private var retainedBytes = 0
    private var partitionCounts: [String: Int32] = [:]
    private var lastTopic: (name: String, partitions: [TopicPartition])?
    private var positionHeaders = PositionHeaders()
    /// The position the last plain checkpoint recorded.
    private var lastRecorded: LSN?
    /// The newest checkpoint: nil until read from the topic, then the last one written.
    private var newest: Checkpoint??
    /// The checkpoint topic was looked up (and created when missing).
    private var checkpointTopicReady = false

    static let configHashHeader = "outflow.config_hash"

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    // MARK: Records

    public func prepare(_ event: PipelineEvent) throws(SinkError) -> PendingRecord {
        var event = event
        var envelopeTail: DebeziumEnvelope.Tail?
        if event.topic == nil, let change = event.change {
            envelopeTail = DebeziumEnvelope.fillAwaitingCommit(&event, change: change, pipelineName: settings.pipelineName)
        }
        guard let topic = event.topic else {
            throw SinkError(.storage, "an event reached the sink without a topic (table \(event.origin.table)): a stage must set one")
        }
        let partitions = try self.partitions(of: topic)
        let index: Int
        if let key = event.key {
            index = KafkaPartitioner.partition(forKey: key, partitionCount: partitions.count)
        } else {
            // No key: keep a transaction's keyless records together, as the log sink does.
            index = Int(event.origin.xid % UInt32(partitions.count))
        }
        var headers = event.headers
        headers.removeAll { $0.key == LogSink.lsnHeader || $0.key == LogSink.xidHeader }
        if let envelopeTail {
            return PendingRecord(
                topicPartition: partitions[index], bodyPrefix: [],
                envelope: PendingEnvelope(key: event.key, valuePrefix: event.value ?? [], headers: headers, tail: envelopeTail))
        }
        return PendingRecord(topicPartition: partitions[index], bodyPrefix: try LogSink.bodyPrefix(key: event.key, value: event.value, headers: headers))
    }

    /// The topic's partitions in the cluster, asked once per topic (a cluster that creates
    /// topics on first use creates it here).
    private func partitions(of topic: String) throws(SinkError) -> [TopicPartition] {
        if let lastTopic, lastTopic.name == topic { return lastTopic.partitions }
        let count: Int32
        if let known = partitionCounts[topic] {
            count = known
        } else {
            do {
                _ = try TopicPartition(topic: topic, partition: 0)
            } catch {
                throw SinkError(.invalidEvent, "invalid topic \"\(topic)\": \(error)", underlying: error)
            }
            let reader = try self.reader()
            do throws(KafkaClientError) { count = Int32(try reader.partitionCount(of: topic, timeout: settings.readTimeout)) } catch {
                throw SinkError(Self.code(of: error), "asking Kafka for the partitions of topic \(topic): \(error)", underlying: error)
            }
            partitionCounts[topic] = count
        }
        // Valid: checked above.
        let partitions = (0..<count).map { try! TopicPartition(topic: topic, partition: $0) }
        lastTopic = (topic, partitions)
        return partitions
    }

    public func write(_ pending: PendingRecord, commit: SourceCommit) throws(SinkError) {
        var body = pending.bodyPrefix
        if let envelope = pending.envelope {
            let value = envelope.valuePrefix
                + DebeziumEnvelope.tail(envelope.tail, commit: commit, pipelineName: settings.pipelineName, databaseName: settings.databaseName)
            body = try LogSink.bodyPrefix(key: envelope.key, value: value, headers: envelope.headers)
        }
        // The record the log sink would append, read back into its parts for librdkafka.
        let encoded = EncodedRecord(timestamp: commit.time.unixMicroseconds / 1000, body: body, trailer: positionHeaders.encoded(for: commit))
        let record: Record
        do { record = try encoded.decoded() } catch {
            throw SinkError(.invalidEvent, "the record cannot be encoded: \(error)", underlying: error)
        }
        try produce(KafkaRecord(topic: pending.topicPartition.topic, partition: pending.topicPartition.partition, record: record))
        highestWritten = max(highestWritten ?? commit.lsn, commit.lsn)
        recordsInGroup += 1
        groupBytes += encoded.size + 16
    }

    public func writeChangelog(_ change: SourceChange, origin: EventOrigin) throws(SinkError) {
        // The loader refuses a changelog with sink.kafka; reaching here is a bug.
        throw SinkError(.storage, "the changelog is kept in sink.log only")
    }

    private func produce(_ record: KafkaRecord) throws(SinkError) {
        let producer = try self.producer()
        if transactional {
            try beginTransactionIfNeeded(producer)
            if retained != nil {
                retainedBytes += record.size
                if retainedBytes > settings.retainedBytesLimit {
                    retained = nil
                } else {
                    retained!.append(record)
                }
            }
        }
        do { try send(record, producer) } catch {
            throw SinkError(Self.code(of: error), "producing to Kafka: \(error)", underlying: error)
        }
    }

    private func send(_ record: KafkaRecord, _ producer: KafkaProducer) throws(KafkaClientError) {
        try producer.send(
            topic: record.topic, partition: record.partition, key: record.record.key, value: record.record.value,
            headers: record.record.headers.map { KafkaHeader(key: $0.key, value: $0.value) }, timestampMilliseconds: record.record.timestamp)
    }

    private func beginTransactionIfNeeded(_ producer: KafkaProducer) throws(SinkError) {
        guard !inTransaction else { return }
        do { try producer.beginTransaction() } catch {
            throw SinkError(Self.code(of: error), "\(error)", underlying: error)
        }
        inTransaction = true
        if transactionStart == nil { transactionStart = .now }
        retained = []
        retainedBytes = 0
    }

    // MARK: Group ends

    /// librdkafka sends on its own threads; this serves its delivery reports and errors.
    public func flush() throws(SinkError) {
        producerInstance?.poll()
        if let fatal = producerInstance?.fatalError() { throw SinkError(Self.code(of: fatal), "\(fatal)", underlying: fatal) }
        if let metrics, let up = producerInstance?.brokersUp { metrics.brokers(up: up) }
    }

    public func commit(_ checkpoint: Checkpoint) throws(SinkError) -> Bool {
        endGroup()
        guard inTransaction, let producer = producerInstance else { return false }
        let checkpointRecord = try self.checkpointRecord(checkpoint)
        try produceCheckpoint(checkpointRecord, producer)
        var backoff = Backoff(maximum: settings.maximumBackoff)
        while true {
            do throws(KafkaClientError) {
                try producer.commitTransaction(timeout: settings.callTimeout)
                break
            } catch let error where error.isRetriable {
                logger.warning("kafka: the transaction's commit is not confirmed yet; retrying in \(backoff.next)", metadata: ["outflow.error": "\(error)"])
                metrics?.retried(.commit)
                backoff.wait()
            } catch let error where error.requiresAbort {
                logger.warning("kafka: the transaction cannot commit; aborting it and producing the group again", metadata: ["outflow.error": "\(error)"])
                try produceAgain(after: error, checkpointRecord, producer)
            } catch {
                throw SinkError(Self.code(of: error), "committing the Kafka transaction: \(error)", underlying: error)
            }
        }
        inTransaction = false
        retained = []
        retainedBytes = 0
        countDeliveries(producer)
        if let transactionStart { metrics?.transactionCommitted(after: ContinuousClock.now - transactionStart) }
        transactionStart = nil
        newest = .some(checkpoint)
        return true
    }

    /// After an abortable error: aborts, then produces the kept records and the checkpoint into
    /// a new transaction — the same records, so nothing is lost or repeated.
    private func produceAgain(after error: KafkaClientError, _ checkpointRecord: KafkaRecord, _ producer: KafkaProducer) throws(SinkError) {
        try abortTransaction(producer)
        guard let records = retained else {
            throw SinkError(
                .storage, "the Kafka transaction was aborted (\(error)) and was too large to produce again from memory; "
                    + "the pipeline stops and resumes from its last committed checkpoint when restarted", underlying: error)
        }
        try beginTransactionIfNeeded(producer)
        retained = records
        retainedBytes = records.reduce(0) { $0 + $1.size }
        for record in records {
            do { try send(record, producer) } catch { throw SinkError(Self.code(of: error), "producing to Kafka: \(error)", underlying: error) }
        }
        try produceCheckpoint(checkpointRecord, producer)
    }

    private func produceCheckpoint(_ record: KafkaRecord, _ producer: KafkaProducer) throws(SinkError) {
        do { try send(record, producer) } catch {
            throw SinkError(Self.code(of: error), "producing the checkpoint to \(settings.checkpointTopic): \(error)", underlying: error)
        }
    }

    private func abortTransaction(_ producer: KafkaProducer) throws(SinkError) {
        var backoff = Backoff(maximum: settings.maximumBackoff)
        while true {
            do throws(KafkaClientError) {
                try producer.abortTransaction(timeout: settings.callTimeout)
                break
            } catch let error where error.isRetriable {
                logger.warning("kafka: the abort is not confirmed yet; retrying in \(backoff.next)", metadata: ["outflow.error": "\(error)"])
                metrics?.retried(.abort)
                backoff.wait()
            } catch {
                throw SinkError(Self.code(of: error), "aborting the Kafka transaction: \(error)", underlying: error)
            }
        }
        inTransaction = false
        countDeliveries(producer)
        metrics?.transactionAborted()
    }

    /// Takes the delivery reports served so far into the metrics.
    private func countDeliveries(_ producer: KafkaProducer) {
        let reports = producer.takeDeliveryReports()
        metrics?.deliveries(delivered: reports.delivered, failed: reports.failed)
        // A commit serves librdkafka's statistics too (it polls while it flushes).
        if let metrics, let up = producer.brokersUp { metrics.brokers(up: up) }
    }

    /// The checkpoint as a record of the checkpoint topic, keyed by the pipeline's name.
    private func checkpointRecord(_ checkpoint: Checkpoint) throws(SinkError) -> KafkaRecord {
        try prepareCheckpointTopic()
        let partitions = try self.partitions(of: settings.checkpointTopic)
        let key = Array(settings.pipelineName.utf8)
        let index = KafkaPartitioner.partition(forKey: key, partitionCount: partitions.count)
        let record = Record(
            key: key, value: checkpoint.encoded(),
            headers: [
                RecordHeader(key: Self.configHashHeader, value: Array(settings.configHash.utf8)),
                RecordHeader(key: LogSink.lsnHeader, value: checkpoint.sourceEnd.text),
            ],
            timestamp: Int64(clockMilliseconds()))
        return KafkaRecord(topic: settings.checkpointTopic, partition: partitions[index].partition, record: record)
    }

    /// Plain appends: waits until every record is delivered (backing off while brokers are
    /// down), then writes `position` as the checkpoint and waits for it too. Without a position
    /// (at-most-once's background sync) the checkpoint is just past the highest source
    /// transaction delivered, so a restart never writes those again: Kafka has no cheap "highest
    /// position in every topic" as the log does.
    public func sync(recording position: LSN?) throws(SinkError) {
        guard let producer = producerInstance else { return }
        try waitForDeliveries(producer)
        let reports = producer.takeDeliveryReports()
        metrics?.deliveries(delivered: reports.delivered, failed: reports.failed)
        if let metrics, let up = producer.brokersUp { metrics.brokers(up: up) }
        if let failure = reports.firstFailure {
            throw SinkError(.storage, "\(reports.failed) record(s) did not reach Kafka: \(failure)", underlying: failure)
        }
        let delivered = highestWritten.map { LSN($0.rawValue + 1) }
        guard let position = position ?? (delivered == lastRecorded ? nil : delivered) else { return }
        lastRecorded = position
        let record = try checkpointRecord(Checkpoint(sourceEnd: position))
        try produceCheckpoint(record, producer)
        try waitForDeliveries(producer)
        let checkpointReports = producer.takeDeliveryReports()
        metrics?.deliveries(delivered: checkpointReports.delivered, failed: checkpointReports.failed)
        if let failure = checkpointReports.firstFailure {
            throw SinkError(.storage, "the checkpoint did not reach Kafka: \(failure)", underlying: failure)
        }
        newest = .some(Checkpoint(sourceEnd: position))
    }

    private func waitForDeliveries(_ producer: KafkaProducer) throws(SinkError) {
        var backoff = Backoff(maximum: settings.maximumBackoff)
        while !producer.flush(timeout: settings.callTimeout) {
            if let fatal = producer.fatalError() { throw SinkError(Self.code(of: fatal), "\(fatal)", underlying: fatal) }
            let cluster = producer.latestClusterError
            logger.warning(
                "kafka: \(producer.inFlight) record(s) not yet delivered\(cluster.allBrokersDown ? " (all brokers down)" : ""); waiting \(backoff.next) more",
                metadata: ["outflow.error": "\(cluster.error.map { "\($0)" } ?? "none")"])
            metrics?.retried(.delivery)
            backoff.wait()
        }
    }

    public func endGroup() {
        recordsInGroup = 0
        groupBytes = 0
    }

    public func abort() throws(SinkError) {
        endGroup()
        guard inTransaction, let producer = producerInstance else { return }
        try abortTransaction(producer)
        retained = []
        retainedBytes = 0
        transactionStart = nil
    }

    // MARK: What the cluster holds

    /// The newest checkpoint of this pipeline the checkpoint topic holds, read read_committed
    /// after the producer registered its transactional.id (which fences an older instance, so
    /// no zombie can commit after this read). Read once; then the last one this sink wrote.
    public func lastCheckpoint() throws(SinkError) -> Checkpoint? {
        if let newest { return newest }
        let found = try readNewestCheckpoint()
        newest = .some(found)
        return found
    }

    /// The newest checkpoint only, whatever else the topic still holds: a compacted topic keeps
    /// no more, and when it compacts is the cluster's choice, so a restart restores the same
    /// state before and after compaction. Stateful stages make each checkpoint sufficient on
    /// its own (docs/kafka-sink.md).
    public func checkpointHistory() throws(SinkError) -> [Checkpoint] {
        try lastCheckpoint().map { [$0] } ?? []
    }

    /// Plain modes write their position as a checkpoint: `lastCheckpoint` has it.
    public func recordedPosition() throws(SinkError) -> LSN? { nil }

    /// At-most-once's position is in its checkpoints too (see `sync`).
    public func highestSourcePosition() throws(SinkError) -> LSN? { nil }

    private func readNewestCheckpoint() throws(SinkError) -> Checkpoint? {
        _ = try producer()
        try prepareCheckpointTopic()
        let partitions = try self.partitions(of: settings.checkpointTopic)
        let key = Array(settings.pipelineName.utf8)
        let partition = partitions[KafkaPartitioner.partition(forKey: key, partitionCount: partitions.count)].partition
        var found: [(checkpoint: Checkpoint, configHash: String?)] = []
        let reader = try self.reader()
        do throws(KafkaClientError) {
            try reader.readAll(topic: settings.checkpointTopic, partition: partition, timeout: settings.readTimeout) { message throws(KafkaClientError) in
                guard message.key == key, let value = message.value else { return }
                let checkpoint: Checkpoint
                do { checkpoint = try Checkpoint(decoding: value) } catch {
                    throw KafkaClientError(.read, "offset \(message.offset): \(error)")
                }
                let hash = message.header(Self.configHashHeader).map { String(decoding: $0, as: UTF8.self) }
                found = [(checkpoint, hash)]
            }
        } catch {
            throw SinkError(error.code == .read ? .unreadableState : Self.code(of: error),
                            "reading the checkpoints of \(settings.pipelineName) from \(settings.checkpointTopic): \(error)", underlying: error)
        }
        if let last = found.last, let hash = last.configHash, hash != settings.configHash {
            logger.info("the pipeline file changed since the last checkpoint", metadata: ["outflow.config_hash": "\(hash) → \(settings.configHash)"])
        }
        return found.last?.checkpoint
    }

    // MARK: The checkpoint topic

    /// Once, before the first checkpoint is read or written: the checkpoint topic is created when
    /// missing (1 partition, compacted); one that exists is checked — more than one partition or
    /// no compaction is a warning, not a refusal: the sink still finds its newest checkpoint in
    /// it as long as its partition count does not change (docs/kafka-sink.md says why).
    private func prepareCheckpointTopic() throws(SinkError) {
        guard !checkpointTopicReady else { return }
        let reader = try self.reader()
        let topic = settings.checkpointTopic
        let description: KafkaTopicDescription
        do throws(KafkaClientError) { description = try reader.describeTopic(topic, timeout: settings.readTimeout) } catch {
            throw SinkError(Self.code(of: error), "looking up the checkpoint topic \(topic): \(error)", underlying: error)
        }
        if description.exists {
            checkCheckpointTopic(description, reader)
        } else {
            try createCheckpointTopic(replicationFactor: settings.checkpointReplicationFactor ?? max(1, min(3, description.brokers)), reader)
        }
        checkpointTopicReady = true
    }

    private func createCheckpointTopic(replicationFactor: Int, _ reader: KafkaPartitionReader) throws(SinkError) {
        let topic = settings.checkpointTopic
        logger.notice(
            "kafka: creating the checkpoint topic \(topic): 1 partition, cleanup.policy=compact, replication factor \(replicationFactor)")
        do throws(KafkaClientError) {
            try reader.createTopic(topic, partitions: 1, replicationFactor: replicationFactor, configs: [("cleanup.policy", "compact")], timeout: settings.adminTimeout)
        } catch {
            throw SinkError(
                .kafkaCheckpointTopic,
                "the checkpoint topic \(topic) does not exist and creating it failed: \(error); create it with 1 partition and "
                    + "cleanup.policy=compact (kafka-topics.sh --create --topic \(topic) --partitions 1 --replication-factor \(replicationFactor) "
                    + "--config cleanup.policy=compact), or name another in sink.kafka.checkpoint_topic", underlying: error)
        }
    }

    private func checkCheckpointTopic(_ description: KafkaTopicDescription, _ reader: KafkaPartitionReader) {
        let topic = settings.checkpointTopic
        if description.partitions > 1 {
            let partition = KafkaPartitioner.partition(forKey: Array(settings.pipelineName.utf8), partitionCount: description.partitions)
            let warning = "kafka: the checkpoint topic \(topic) has \(description.partitions) partitions; this pipeline's checkpoints go to "
                + "partition \(partition) (murmur2 of its name): adding partitions would move them and a restart would not find its checkpoint. "
                + "One partition is safer."
            logger.warning(
                "\(warning)",
                metadata: ["outflow.kafka.topic": "\(topic)", "outflow.kafka.partitions": "\(description.partitions)"])
        }
        do throws(KafkaClientError) {
            let configs = try reader.topicConfigs(topic, timeout: settings.adminTimeout)
            if let policy = configs["cleanup.policy"], !policy.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "compact" }) {
                let warning = "kafka: the checkpoint topic \(topic) has cleanup.policy=\(policy), not compact: it keeps every checkpoint "
                    + "until retention deletes them, and each start reads them all; set cleanup.policy=compact"
                logger.warning(
                    "\(warning)",
                    metadata: ["outflow.kafka.topic": "\(topic)"])
            }
        } catch {
            logger.notice(
                "kafka: the cluster did not say how the checkpoint topic \(topic) is configured; its cleanup.policy is not checked",
                metadata: ["outflow.error": "\(error)"])
        }
    }

    // MARK: Clients

    private func producer() throws(SinkError) -> KafkaProducer {
        if let producerInstance { return producerInstance }
        var configuration = settings.producer
        configuration["enable.idempotence"] = "true"
        if transactional { configuration["transactional.id"] = settings.transactionalID }
        let producer: KafkaProducer
        do { producer = try KafkaProducer(configuration: configuration, statisticsInterval: settings.statisticsInterval, logger: logger) } catch {
            throw SinkError(Self.code(of: error), "\(error)", underlying: error)
        }
        if transactional {
            var backoff = Backoff(maximum: settings.maximumBackoff)
            while true {
                do throws(KafkaClientError) {
                    try producer.initTransactions(timeout: settings.callTimeout)
                    break
                } catch let error where error.isRetriable {
                    logger.warning("kafka: cannot register transactional.id \(settings.transactionalID) yet; retrying in \(backoff.next)", metadata: ["outflow.error": "\(error)"])
                    metrics?.retried(.register)
                    backoff.wait()
                } catch {
                    throw SinkError(Self.code(of: error), "registering transactional.id \(settings.transactionalID): \(error)", underlying: error)
                }
            }
        }
        producerInstance = producer
        return producer
    }

    private func reader() throws(SinkError) -> KafkaPartitionReader {
        if let checkpointReader { return checkpointReader }
        do {
            let reader = try KafkaPartitionReader(configuration: settings.reader, isolation: .readCommitted, logger: logger)
            checkpointReader = reader
            return reader
        } catch {
            throw SinkError(Self.code(of: error), "\(error)", underlying: error)
        }
    }

    static func code(of error: KafkaClientError) -> SinkError.Code {
        switch error.code {
        case .fenced: .kafkaFenced
        case .authentication: .kafkaAuthentication
        case .configuration: .kafkaConfiguration
        default: .storage
        }
    }

    private func clockMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// A record on its way to Kafka.
struct KafkaRecord {
    var topic: String
    var partition: Int32
    var record: Record

    var size: Int { 64 + (record.key?.count ?? 0) + (record.value?.count ?? 0) + record.headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) } }
}

/// Doubling pauses between retries: 200 ms up to a maximum.
struct Backoff {
    let maximum: Duration
    private(set) var next: Duration = .milliseconds(200)

    init(maximum: Duration) { self.maximum = maximum }

    mutating func wait() {
        sleep(for: next)
        next = min(next * 2, maximum)
    }
}

extension SinkError.Code {
    /// Another instance with the same transactional.id took over: this one must stop.
    public static let kafkaFenced = SinkError.Code("kafka_fenced")
    /// The cluster refused the credentials or a permission.
    public static let kafkaAuthentication = SinkError.Code("kafka_authentication")
    /// librdkafka refused a property.
    public static let kafkaConfiguration = SinkError.Code("kafka_configuration")
    /// The checkpoint topic is missing and could not be created.
    public static let kafkaCheckpointTopic = SinkError.Code("kafka_checkpoint_topic")
}
