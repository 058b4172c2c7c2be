import BinaryIO
import CRdKafka
import Logging

/// A record header: Kafka allows a null value.
public struct KafkaHeader: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]?
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// librdkafka's producer, thinly: records in, delivery reports counted, and the transactional
/// calls with their errors classified (`KafkaClientError`). Blocking; used from one thread.
public final class KafkaProducer {
    private let handle: OpaquePointer
    private let callbacks: KafkaCallbacks
    private let logger: Logger
    /// Produced and not yet reported delivered or failed.
    public var inFlight: Int { Int(rd_kafka_outq_len(handle)) }

    /// `configuration` holds librdkafka's producer properties (bootstrap.servers and the rest).
    /// With `statisticsInterval`, librdkafka reports its statistics that often (`brokersUp`).
    public init(configuration: KafkaConfiguration, statisticsInterval: Duration? = nil, logger: Logger) throws(KafkaClientError) {
        self.logger = logger
        callbacks = KafkaCallbacks(logger: logger)
        var configuration = configuration
        if let statisticsInterval { configuration["statistics.interval.ms"] = String(Self.milliseconds(statisticsInterval)) }
        let conf = try configuration.makeConf()
        callbacks.install(on: conf, deliveryReports: true, statistics: statisticsInterval != nil)
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaClientError(.configuration, "creating the Kafka producer failed: \(cText(errorText))")
        }
        self.handle = handle
    }

    deinit {
        // Whatever is still queued is dropped: a transaction left open is aborted by the
        // coordinator (its timeout) or by the next producer with the same transactional.id.
        rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
        rd_kafka_destroy(handle)
    }

    // MARK: Transactions

    /// Registers the transactional.id with its coordinator, fencing any older producer with the
    /// same id and aborting the transaction it left open.
    public func initTransactions(timeout: Duration) throws(KafkaClientError) {
        if let error = rd_kafka_init_transactions(handle, Self.milliseconds(timeout)) {
            throw KafkaClientError.consuming(error, doing: "initialising Kafka transactions")
        }
    }

    public func beginTransaction() throws(KafkaClientError) {
        if let error = rd_kafka_begin_transaction(handle) {
            throw KafkaClientError.consuming(error, doing: "beginning a Kafka transaction")
        }
    }

    /// Flushes what is queued and commits. A retriable failure may be retried with the same call.
    public func commitTransaction(timeout: Duration) throws(KafkaClientError) {
        if let error = rd_kafka_commit_transaction(handle, Self.milliseconds(timeout)) {
            throw KafkaClientError.consuming(error, doing: "committing the Kafka transaction")
        }
    }

    public func abortTransaction(timeout: Duration) throws(KafkaClientError) {
        if let error = rd_kafka_abort_transaction(handle, Self.milliseconds(timeout)) {
            throw KafkaClientError.consuming(error, doing: "aborting the Kafka transaction")
        }
    }

    // MARK: Records

    /// Queues one record for `partition` of `topic`. When librdkafka's queue is full this
    /// serves delivery reports until there is room.
    public func send(
        topic: String, partition: Int32, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestampMilliseconds: Int64
    ) throws(KafkaClientError) {
        while true {
            let result = Self.produce(handle, topic: topic, partition: partition, key: key, value: value, headers: headers, timestamp: timestampMilliseconds)
            switch result {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                return
            case RD_KAFKA_RESP_ERR__QUEUE_FULL:
                rd_kafka_poll(handle, 100)
            case RD_KAFKA_RESP_ERR__FATAL:
                throw fatalError() ?? KafkaClientError(.fatal, "the Kafka producer hit a fatal error", kafkaError: result.rawValue)
            case RD_KAFKA_RESP_ERR__STATE:
                // The transaction cannot take records any more (it must be aborted).
                throw KafkaClientError(.abortable, "the Kafka transaction refused a record to \(topic): \(String(cString: rd_kafka_err2str(result)))", kafkaError: result.rawValue)
            default:
                throw KafkaClientError(.delivery, "queueing a record to \(topic) [\(partition)] failed: \(String(cString: rd_kafka_err2str(result)))", kafkaError: result.rawValue)
            }
        }
    }

    private static func produce(
        _ handle: OpaquePointer, topic: String, partition: Int32, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], timestamp: Int64
    ) -> rd_kafka_resp_err_t {
        let list = rd_kafka_headers_new(headers.count)
        for header in headers {
            if let value = header.value {
                value.withUnsafeBytes { bytes in _ = rd_kafka_header_add(list, header.key, -1, bytes.baseAddress, bytes.count) }
            } else {
                _ = rd_kafka_header_add(list, header.key, -1, nil, 0)
            }
        }
        let result = withOptionalBytes(key) { keyBytes in
            withOptionalBytes(value) { valueBytes in
                outflow_rd_kafka_produce(
                    handle, topic, partition, keyBytes?.baseAddress, keyBytes?.count ?? 0, valueBytes?.baseAddress, valueBytes?.count ?? 0,
                    list, timestamp, nil)
            }
        }
        // On success librdkafka owns the headers.
        if result != RD_KAFKA_RESP_ERR_NO_ERROR { rd_kafka_headers_destroy(list) }
        return result
    }

    /// Serves delivery reports and error callbacks, waiting up to `timeout`.
    public func poll(timeout: Duration = .zero) {
        rd_kafka_poll(handle, Self.milliseconds(timeout))
    }

    /// Waits until every queued record is delivered or failed; false on timeout.
    public func flush(timeout: Duration) -> Bool {
        rd_kafka_flush(handle, Self.milliseconds(timeout)) == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Records delivered and failed since the last call (and the first failure).
    public func takeDeliveryReports() -> (delivered: Int, failed: Int, firstFailure: KafkaClientError?) {
        let reports = callbacks.takeDeliveries()
        return (reports.delivered, reports.failed, reports.firstFailure)
    }

    /// Brokers the producer has a connection up to, from librdkafka's latest statistics (served
    /// by `poll`); nil without `statisticsInterval` or before the first report.
    public var brokersUp: Int? { callbacks.brokersUp }

    /// The last error librdkafka reported on its own (a broker down, all brokers down).
    public var latestClusterError: (error: KafkaClientError?, allBrokersDown: Bool) { callbacks.latestError }

    /// The fatal error the producer is stopped by, if any.
    public func fatalError() -> KafkaClientError? {
        var text = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(handle, &text, text.count)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaClientError(KafkaClientError.fatalKind(code.rawValue), "the Kafka producer stopped: \(cText(text)) [\(KafkaClientError.name(of: code.rawValue))]", kafkaError: code.rawValue)
    }

    /// The number of partitions of `topic` (a cluster that creates topics on first use creates
    /// it here).
    public func partitionCount(of topic: String, timeout: Duration) throws(KafkaClientError) -> Int {
        try KafkaMetadata.partitionCount(handle, topic: topic, timeout: timeout)
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        let components = duration.components
        let milliseconds = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}

func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

enum KafkaMetadata {
    static func partitionCount(_ handle: OpaquePointer, topic: String, timeout: Duration) throws(KafkaClientError) -> Int {
        let deadline = ContinuousClock.now + timeout
        var lastProblem = "no answer"
        repeat {
            let topicHandle = rd_kafka_topic_new(handle, topic, nil)
            defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let remaining = max(Duration.milliseconds(100), deadline - ContinuousClock.now)
            let result = rd_kafka_metadata(handle, 0, topicHandle, &metadata, KafkaProducer.milliseconds(remaining))
            if result == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata {
                defer { rd_kafka_metadata_destroy(metadata) }
                let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
                if let entry = topics.first(where: { String(cString: $0.topic) == topic }) {
                    if entry.err == RD_KAFKA_RESP_ERR_NO_ERROR, entry.partition_cnt > 0 { return Int(entry.partition_cnt) }
                    lastProblem = String(cString: rd_kafka_err2str(entry.err))
                    if entry.err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED {
                        throw KafkaClientError(.authentication, "the Kafka cluster refused access to topic \(topic)", kafkaError: entry.err.rawValue)
                    }
                }
            } else {
                lastProblem = String(cString: rd_kafka_err2str(result))
            }
            // A topic being created on first use answers "unknown" for a moment.
            sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        throw KafkaClientError(.read, "the Kafka cluster did not say how many partitions topic \(topic) has: \(lastProblem)")
    }
}
