import KafkaClient
import Logging
import Testing

/// The thin librdkafka wrapper against librdkafka's mock cluster in this process. These tests
/// also pin down what the mock models (docs/kafka-sink.md): if a librdkafka upgrade changes
/// it, they say so.
@Suite struct KafkaProducerTests {
    let logger = Logger(label: "test.kafka")

    func producer(_ cluster: MockKafkaCluster, transactionalID: String? = nil) throws -> KafkaProducer {
        var configuration = KafkaConfiguration([("bootstrap.servers", cluster.bootstrapServers), ("enable.idempotence", "true")])
        if let transactionalID { configuration["transactional.id"] = transactionalID }
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    func readBack(_ cluster: MockKafkaCluster, topic: String, partition: Int32 = 0) throws -> [KafkaMessage] {
        let reader = try KafkaPartitionReader(configuration: KafkaConfiguration([("bootstrap.servers", cluster.bootstrapServers)]), logger: logger)
        var messages: [KafkaMessage] = []
        try reader.readAll(topic: topic, partition: partition, timeout: .seconds(20)) { messages.append($0) }
        return messages
    }

    @Test func aCommittedTransactionReadsBackWithKeysHeadersAndTimestamps() throws {
        let cluster = try MockKafkaCluster(brokers: 3)
        try cluster.createTopic("orders", partitions: 2)
        let producer = try producer(cluster, transactionalID: "test-commit")
        try producer.initTransactions(timeout: .seconds(20))
        try producer.beginTransaction()
        for index in 0..<5 {
            try producer.send(
                topic: "orders", partition: Int32(index % 2), key: Array("k\(index)".utf8), value: index == 4 ? nil : Array("v\(index)".utf8),
                headers: [KafkaHeader(key: "id", value: Array("\(index)".utf8)), KafkaHeader(key: "empty", value: nil)],
                timestampMilliseconds: 1_700_000_000_000 + Int64(index))
        }
        try producer.commitTransaction(timeout: .seconds(20))
        #expect(producer.takeDeliveryReports().delivered == 5)

        let even = try readBack(cluster, topic: "orders", partition: 0)
        #expect(even.map { String(decoding: $0.key ?? [], as: UTF8.self) } == ["k0", "k2", "k4"])
        #expect(even.map(\.offset) == [0, 1, 2])
        #expect(even.last?.value == nil)
        #expect(even.first?.headers == [KafkaHeader(key: "id", value: Array("0".utf8)), KafkaHeader(key: "empty", value: nil)])
        #expect(even.first?.timestampMilliseconds == 1_700_000_000_000)
        #expect(try producer.partitionCount(of: "orders", timeout: .seconds(10)) == 2)
    }

    /// The mock writes no COMMIT/ABORT markers and reports the last stable offset as the high
    /// watermark: an aborted transaction's records reach a read_committed reader. This is the
    /// finding the docs state; the test fails the day the mock starts modelling markers.
    @Test func theMockShowsAbortedRecordsToReadCommittedReaders() throws {
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("aborted", partitions: 1)
        let producer = try producer(cluster, transactionalID: "test-abort")
        try producer.initTransactions(timeout: .seconds(20))
        try producer.beginTransaction()
        try producer.send(topic: "aborted", partition: 0, key: nil, value: Array("never".utf8), headers: [], timestampMilliseconds: 0)
        #expect(producer.flush(timeout: .seconds(20)))
        try producer.abortTransaction(timeout: .seconds(20))
        try producer.beginTransaction()
        try producer.send(topic: "aborted", partition: 0, key: nil, value: Array("kept".utf8), headers: [], timestampMilliseconds: 0)
        try producer.commitTransaction(timeout: .seconds(20))

        let values = try readBack(cluster, topic: "aborted").map { String(decoding: $0.value ?? [], as: UTF8.self) }
        #expect(values == ["never", "kept"])
    }

    @Test func anInjectedEndTxnErrorIsClassified() throws {
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("injected", partitions: 1)
        let producer = try producer(cluster, transactionalID: "test-injected")
        try producer.initTransactions(timeout: .seconds(20))

        // PRODUCER_FENCED (90) on EndTxn: the producer cannot go on.
        try producer.beginTransaction()
        try producer.send(topic: "injected", partition: 0, key: nil, value: [1], headers: [], timestampMilliseconds: 0)
        #expect(producer.flush(timeout: .seconds(20)))
        cluster.pushRequestErrors(apiKey: 26, errors: [90])
        let error = #expect(throws: KafkaClientError.self) { try producer.commitTransaction(timeout: .seconds(20)) }
        #expect(error?.code == .fenced)
        #expect(error?.isFatal == true)
        #expect(producer.fatalError()?.code == .fenced)
    }

    @Test func anAbortableErrorAbortsAndTheNextTransactionCommits() throws {
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("abortable", partitions: 1)
        let producer = try producer(cluster, transactionalID: "test-abortable")
        try producer.initTransactions(timeout: .seconds(20))
        try producer.beginTransaction()
        try producer.send(topic: "abortable", partition: 0, key: nil, value: [1], headers: [], timestampMilliseconds: 0)
        #expect(producer.flush(timeout: .seconds(20)))
        // INVALID_RECORD (87) on EndTxn, an error librdkafka has no special case for: this
        // transaction cannot commit, the producer can go on.
        cluster.pushRequestErrors(apiKey: 26, errors: [87])
        let error = #expect(throws: KafkaClientError.self) { try producer.commitTransaction(timeout: .seconds(20)) }
        #expect(error?.requiresAbort == true)
        try producer.abortTransaction(timeout: .seconds(20))
        try producer.beginTransaction()
        try producer.send(topic: "abortable", partition: 0, key: nil, value: [2], headers: [], timestampMilliseconds: 0)
        try producer.commitTransaction(timeout: .seconds(20))
    }

    @Test func aRefusedPropertyIsNamedWithoutItsValue() {
        let error = #expect(throws: KafkaClientError.self) {
            _ = try KafkaProducer(configuration: KafkaConfiguration([("sasl.password.typo", "hunter2-secret")]), logger: logger)
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("sasl.password.typo") == true)
        #expect(error?.message.contains("hunter2") == false)
    }

    /// What librdkafka 2.0.2's mock answers to the checkpoint topic's lookup and admin calls.
    /// It answers Metadata only up to v2, which has no AllowAutoTopicCreation, and then creates
    /// any topic a request names (4 partitions): so a missing topic cannot be seen unless the
    /// test makes it answer UNKNOWN_TOPIC_OR_PART. Its request table has no CreateTopics or
    /// DescribeConfigs handler, and its metadata names controller 0, a broker it does not have:
    /// librdkafka's admin calls wait for that controller and time out. The test fails the day
    /// the mock answers them — then the sink's creation can be shown against it.
    @Test func theMockAnswersMetadataButNotTheTopicAdminRequests() throws {
        let cluster = try MockKafkaCluster(brokers: 3)
        try cluster.createTopic("present", partitions: 2)
        let reader = try KafkaPartitionReader(configuration: KafkaConfiguration([("bootstrap.servers", cluster.bootstrapServers)]), logger: logger)
        #expect(try reader.describeTopic("present", timeout: .seconds(20)) == KafkaTopicDescription(exists: true, partitions: 2, brokers: 3))
        #expect(try reader.describeTopic("looked-up", timeout: .seconds(20)) == KafkaTopicDescription(exists: true, partitions: 4, brokers: 3))
        cluster.setTopicError("missing", error: 3)
        #expect(try reader.describeTopic("missing", timeout: .seconds(20)) == KafkaTopicDescription(exists: false, partitions: 0, brokers: 3))

        let created = #expect(throws: KafkaClientError.self) {
            try reader.createTopic("missing", partitions: 1, replicationFactor: 3, configs: [("cleanup.policy", "compact")], timeout: .seconds(3))
        }
        #expect(created?.code == .read && created?.message.contains("waiting for controller") == true, "\(String(describing: created))")
        let described = #expect(throws: KafkaClientError.self) { try reader.topicConfigs("present", timeout: .seconds(3)) }
        #expect(described?.code == .read && described?.message.contains("waiting for controller") == true, "\(String(describing: described))")
    }

    /// librdkafka's statistics count the brokers the producer has a connection up to, each
    /// once (the bootstrap entry is the same broker again), and follow a broker going down.
    @Test func statisticsCountTheBrokersUp() throws {
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("counted", partitions: 1)
        let configuration = KafkaConfiguration([("bootstrap.servers", cluster.bootstrapServers), ("enable.idempotence", "true")])
        let producer = try KafkaProducer(configuration: configuration, statisticsInterval: .milliseconds(100), logger: logger)
        try producer.send(topic: "counted", partition: 0, key: nil, value: [1], headers: [], timestampMilliseconds: 0)
        #expect(producer.flush(timeout: .seconds(20)))
        func waitFor(_ count: Int) {
            let deadline = ContinuousClock.now + .seconds(20)
            while producer.brokersUp != count && ContinuousClock.now < deadline { producer.poll(timeout: .milliseconds(100)) }
        }
        waitFor(1)
        #expect(producer.brokersUp == 1)
        try cluster.setBroker(1, up: false)
        waitFor(0)
        #expect(producer.brokersUp == 0)
    }
}
