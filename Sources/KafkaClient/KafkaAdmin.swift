import BinaryIO
import CRdKafka

/// What the cluster's metadata says of one topic.
public struct KafkaTopicDescription: Sendable, Equatable {
    /// False when the cluster answered that the topic does not exist.
    public var exists: Bool
    public var partitions: Int
    /// Brokers in the cluster (a default replication factor is taken from it).
    public var brokers: Int

    public init(exists: Bool, partitions: Int, brokers: Int) {
        self.exists = exists
        self.partitions = partitions
        self.brokers = brokers
    }
}

/// The few admin calls the Kafka sink makes on its checkpoint topic: look it up without creating
/// it, create it, read its configuration. librdkafka's admin API runs on any client handle; these
/// use the checkpoint reader's (a consumer, whose metadata requests never create a topic:
/// `allow.auto.create.topics` is false for consumers).
extension KafkaPartitionReader {
    /// The topic as the metadata shows it. Retries transport errors until `timeout`.
    public func describeTopic(_ topic: String, timeout: Duration) throws(KafkaClientError) -> KafkaTopicDescription {
        try KafkaMetadata.describe(handle, topic: topic, timeout: timeout)
    }

    /// Creates `topic`; one that exists already (another instance was quicker) is no error.
    public func createTopic(
        _ topic: String, partitions: Int, replicationFactor: Int, configs: [(key: String, value: String)], timeout: Duration
    ) throws(KafkaClientError) {
        var errorText = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(topic, Int32(partitions), Int32(replicationFactor), &errorText, errorText.count) else {
            throw KafkaClientError(.configuration, "creating topic \(topic): \(cText(errorText))")
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for (key, value) in configs {
            let result = rd_kafka_NewTopic_set_config(newTopic, key, value)
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaClientError(.configuration, "creating topic \(topic): \(key): \(String(cString: rd_kafka_err2str(result)))", kafkaError: result.rawValue)
            }
        }
        try adminCall(.createTopics, "creating topic \(topic)", timeout: timeout) { options, queue in
            var topics: [OpaquePointer?] = [newTopic]
            rd_kafka_CreateTopics(handle, &topics, 1, options, queue)
        } result: { event throws(KafkaClientError) in
            var count = 0
            guard let result = rd_kafka_event_CreateTopics_result(event), let results = rd_kafka_CreateTopics_result_topics(result, &count) else {
                throw KafkaClientError(.read, "creating topic \(topic): no result")
            }
            for index in 0..<count {
                guard let entry = results[index] else { continue }
                let code = rd_kafka_topic_result_error(entry)
                guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else { continue }
                let text = rd_kafka_topic_result_error_string(entry).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(code))
                throw KafkaClientError(Self.adminCode(code), "creating topic \(topic): \(text) [\(KafkaClientError.name(of: code.rawValue))]", kafkaError: code.rawValue)
            }
        }
    }

    /// The topic's configuration as the cluster reports it (DescribeConfigs).
    public func topicConfigs(_ topic: String, timeout: Duration) throws(KafkaClientError) -> [String: String] {
        guard let resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic) else {
            throw KafkaClientError(.configuration, "describing topic \(topic): invalid resource")
        }
        defer { rd_kafka_ConfigResource_destroy(resource) }
        var configs: [String: String] = [:]
        try adminCall(.describeConfigs, "reading the configuration of topic \(topic)", timeout: timeout) { options, queue in
            var resources: [OpaquePointer?] = [resource]
            rd_kafka_DescribeConfigs(handle, &resources, 1, options, queue)
        } result: { event throws(KafkaClientError) in
            var count = 0
            guard let result = rd_kafka_event_DescribeConfigs_result(event), let resources = rd_kafka_DescribeConfigs_result_resources(result, &count) else {
                throw KafkaClientError(.read, "reading the configuration of topic \(topic): no result")
            }
            for index in 0..<count {
                guard let entry = resources[index] else { continue }
                let code = rd_kafka_ConfigResource_error(entry)
                guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    let text = rd_kafka_ConfigResource_error_string(entry).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(code))
                    throw KafkaClientError(Self.adminCode(code), "reading the configuration of topic \(topic): \(text)", kafkaError: code.rawValue)
                }
                var entryCount = 0
                guard let entries = rd_kafka_ConfigResource_configs(entry, &entryCount) else { continue }
                for position in 0..<entryCount {
                    guard let config = entries[position], let name = rd_kafka_ConfigEntry_name(config) else { continue }
                    configs[String(cString: name)] = rd_kafka_ConfigEntry_value(config).map { String(cString: $0) }
                }
            }
        }
        return configs
    }

    private enum AdminOperation {
        case createTopics, describeConfigs
        var cValue: rd_kafka_admin_op_t { self == .createTopics ? RD_KAFKA_ADMIN_OP_CREATETOPICS : RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS }
    }

    /// Runs one admin request on a queue of its own and hands its result event to `result`.
    private func adminCall(
        _ operation: AdminOperation, _ what: String, timeout: Duration, start: (OpaquePointer, OpaquePointer) -> Void,
        result: (OpaquePointer) throws(KafkaClientError) -> Void
    ) throws(KafkaClientError) {
        let queue = rd_kafka_queue_new(handle)!
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, operation.cValue)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errorText = [CChar](repeating: 0, count: 512)
        let milliseconds = KafkaProducer.milliseconds(timeout)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errorText, errorText.count)
        if operation == .createTopics { _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errorText, errorText.count) }
        start(options, queue)
        // The admin layer answers by its own timeout; a little more here so its answer wins.
        guard let event = rd_kafka_queue_poll(queue, milliseconds + 5000) else {
            throw KafkaClientError(.read, "\(what): no answer within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(code))
            throw KafkaClientError(Self.adminCode(code), "\(what): \(text) [\(KafkaClientError.name(of: code.rawValue))]", kafkaError: code.rawValue)
        }
        try result(event)
    }

    /// Refused permissions are `authentication`; a broker that does not know the request (a mock,
    /// an old broker) is `unsupported`; the rest is a failed `read`.
    static func adminCode(_ code: rd_kafka_resp_err_t) -> KafkaClientError.Code {
        switch code {
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED: .authentication
        case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE, RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION, RD_KAFKA_RESP_ERR_INVALID_REQUEST: .unsupported
        default: .read
        }
    }
}

extension KafkaMetadata {
    static func describe(_ handle: OpaquePointer, topic: String, timeout: Duration) throws(KafkaClientError) -> KafkaTopicDescription {
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
                let brokers = Int(metadata.pointee.broker_cnt)
                let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
                if let entry = topics.first(where: { String(cString: $0.topic) == topic }) {
                    switch entry.err {
                    case RD_KAFKA_RESP_ERR_NO_ERROR where entry.partition_cnt > 0:
                        return KafkaTopicDescription(exists: true, partitions: Int(entry.partition_cnt), brokers: brokers)
                    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
                        return KafkaTopicDescription(exists: false, partitions: 0, brokers: brokers)
                    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
                        throw KafkaClientError(.authentication, "the Kafka cluster refused access to topic \(topic)", kafkaError: entry.err.rawValue)
                    default:
                        lastProblem = String(cString: rd_kafka_err2str(entry.err))
                    }
                }
            } else {
                lastProblem = String(cString: rd_kafka_err2str(result))
            }
            sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        throw KafkaClientError(.read, "the Kafka cluster did not describe topic \(topic): \(lastProblem)")
    }
}
