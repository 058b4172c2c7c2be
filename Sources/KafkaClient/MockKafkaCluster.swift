import CRdKafka

/// librdkafka's built-in mock cluster: brokers in this process that speak enough of Kafka's
/// protocol for producers and consumers, with hooks to inject errors. What it models and what
/// it does not is in docs/kafka-sink.md — it writes no transaction markers, so it cannot show
/// read_committed isolation.
public final class MockKafkaCluster {
    /// The client the mock needs for its bookkeeping; it does nothing else.
    private let owner: OpaquePointer
    private let cluster: OpaquePointer

    public init(brokers: Int) throws(KafkaClientError) {
        let conf = rd_kafka_conf_new()!
        rd_kafka_conf_set_log_cb(conf) { _, _, _, _ in }
        var errorText = [CChar](repeating: 0, count: 512)
        guard let owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaClientError(.configuration, "creating the mock cluster's client failed: \(cText(errorText))")
        }
        guard let cluster = rd_kafka_mock_cluster_new(owner, Int32(brokers)) else {
            rd_kafka_destroy(owner)
            throw KafkaClientError(.configuration, "creating a mock cluster of \(brokers) brokers failed")
        }
        self.owner = owner
        self.cluster = cluster
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(owner)
    }

    /// The brokers' addresses, comma-separated: a `bootstrap.servers` value.
    public var bootstrapServers: String { String(cString: rd_kafka_mock_cluster_bootstraps(cluster)) }

    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaClientError) {
        try check(rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor)), "creating topic \(name)")
    }

    /// The next requests of `apiKey` (Kafka's API key, e.g. 0 Produce, 26 EndTxn) to any broker
    /// fail with `errors` (Kafka error codes), one each, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t($0) }
        codes.withUnsafeBufferPointer { rd_kafka_mock_push_request_errors_array(cluster, apiKey, $0.count, $0.baseAddress) }
    }

    /// Metadata answers `error` (a Kafka error code; 0: none) for `topic` from now on. The mock
    /// creates any topic a metadata request names (it answers Metadata up to v2, which has no
    /// AllowAutoTopicCreation), so this is how it can answer UNKNOWN_TOPIC_OR_PART (3).
    public func setTopicError(_ topic: String, error: Int32) {
        rd_kafka_mock_topic_set_error(cluster, topic, rd_kafka_resp_err_t(error))
    }

    /// Moves the coordinator of a transactional.id (`keyType` "transaction") or a group ("group").
    public func setCoordinator(keyType: String, key: String, brokerID: Int32) throws(KafkaClientError) {
        try check(rd_kafka_mock_coordinator_set(cluster, keyType, key, brokerID), "moving the \(keyType) coordinator of \(key)")
    }

    /// Takes a broker down (its connections closed, new ones refused) or brings it back.
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaClientError) {
        let result = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
        try check(result, "setting broker \(id) \(up ? "up" : "down")")
    }

    private func check(_ result: rd_kafka_resp_err_t, _ what: String) throws(KafkaClientError) {
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaClientError(.configuration, "\(what): \(String(cString: rd_kafka_err2str(result)))", kafkaError: result.rawValue)
        }
    }
}
