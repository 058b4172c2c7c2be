import CRdKafka
import Logging

/// A record read back from Kafka.
public struct KafkaMessage: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    public var timestampMilliseconds: Int64

    public func header(_ key: String) -> [UInt8]? { headers.last { $0.key == key }?.value ?? nil }
}

/// Reads one partition from its start to its end with librdkafka's consumer, without a group
/// (nothing is committed). With `isolation.level=read_committed` the end is the last stable
/// offset and aborted records are left out — what the Kafka sink needs to find its last
/// committed checkpoint.
public final class KafkaPartitionReader {
    let handle: OpaquePointer
    private let callbacks: KafkaCallbacks

    /// `configuration`: librdkafka consumer properties (bootstrap.servers, security). The
    /// reader sets its own isolation, end-of-partition and offset properties over them.
    public init(configuration: KafkaConfiguration, isolation: Isolation = .readCommitted, logger: Logger) throws(KafkaClientError) {
        var configuration = configuration
        configuration["isolation.level"] = isolation.rawValue
        configuration["enable.partition.eof"] = "true"
        configuration["enable.auto.commit"] = "false"
        configuration["enable.auto.offset.store"] = "false"
        configuration["auto.offset.reset"] = "earliest"
        // librdkafka's consumer wants a group even for assigned partitions; it never joins it
        // (no subscribe) and commits nothing.
        if configuration["group.id"] == nil { configuration["group.id"] = "outflow-reader" }
        callbacks = KafkaCallbacks(logger: logger)
        let conf = try configuration.makeConf()
        callbacks.install(on: conf, deliveryReports: false)
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaClientError(.configuration, "creating the Kafka consumer failed: \(cText(errorText))")
        }
        rd_kafka_poll_set_consumer(handle)
        self.handle = handle
    }

    public enum Isolation: String, Sendable {
        case readCommitted = "read_committed"
        case readUncommitted = "read_uncommitted"
    }

    deinit {
        rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
    }

    public func partitionCount(of topic: String, timeout: Duration) throws(KafkaClientError) -> Int {
        try KafkaMetadata.partitionCount(handle, topic: topic, timeout: timeout)
    }

    /// Every record of `partition` of `topic` from its start to its current end, in order;
    /// `visit` sees each one. Throws when the end is not reached within `timeout`.
    public func readAll(topic: String, partition: Int32, timeout: Duration, _ visit: (KafkaMessage) throws(KafkaClientError) -> Void) throws(KafkaClientError) {
        let list = rd_kafka_topic_partition_list_new(1)!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        let assigned = rd_kafka_assign(handle, list)
        guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaClientError(.read, "reading \(topic) [\(partition)]: \(String(cString: rd_kafka_err2str(assigned)))", kafkaError: assigned.rawValue)
        }
        defer { rd_kafka_assign(handle, nil) }
        let deadline = ContinuousClock.now + timeout
        var lastProblem = "no answer from the cluster"
        while ContinuousClock.now < deadline {
            guard let message = rd_kafka_consumer_poll(handle, 200) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let entry = message.pointee
            switch entry.err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                try visit(Self.message(message, topic: topic))
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                return
            default:
                lastProblem = String(cString: rd_kafka_err2str(entry.err))
                if rd_kafka_fatal_error(handle, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaClientError(.fatal, "reading \(topic) [\(partition)]: \(lastProblem)", kafkaError: entry.err.rawValue)
                }
            }
        }
        throw KafkaClientError(.read, "reading \(topic) [\(partition)] did not reach its end within \(timeout): \(lastProblem)")
    }

    /// `pointer` must be librdkafka's own message: headers and timestamp are read from the
    /// structure it is part of, so a copy would not do.
    private static func message(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaMessage {
        let entry = pointer.pointee
        func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
            guard let pointer else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        var headers: [KafkaHeader] = []
        var list: OpaquePointer?
        if rd_kafka_message_headers(pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
        return KafkaMessage(
            topic: topic, partition: entry.partition, offset: entry.offset, key: bytes(entry.key, entry.key_len), value: bytes(entry.payload, entry.len),
            headers: headers, timestampMilliseconds: timestamp)
    }
}
