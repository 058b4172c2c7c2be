import KafkaProtocol
import Logging
import NIOCore
import SegmentLog

/// The broker this endpoint names in Metadata: the only one, node 0.
struct BrokerAddress: Sendable, Hashable {
    static let nodeID: Int32 = 0
    var host: String
    var port: Int32

    var metadataBroker: MetadataResponse.Broker { MetadataResponse.Broker(nodeID: Self.nodeID, host: host, port: port) }
}

/// What a connection does with a request.
enum Reply: Sendable {
    /// Send this response frame.
    case frame(ByteBuffer)
    /// Send nothing (a Produce with acks=0 expects no answer) and close the connection, so the
    /// client learns its write went nowhere.
    case close(reason: String)
    /// Send this Fetch response, then release the memory it holds.
    case fetchResponse(ByteBuffer, FetchReservation)
    /// Send this response frame, then close the connection (a failed authentication: the
    /// client reads why before the connection goes).
    case lastFrame(ByteBuffer, reason: String)
}

/// Answers decoded requests from the log. Pure apart from reading the log: every method that
/// takes the log does blocking file I/O and runs on the thread pool.
struct RequestProcessor: Sendable {
    let log: EndpointLog
    /// Group membership: which members and generation an OffsetCommit may come from, and what
    /// DescribeGroups and ListGroups show.
    let membership: GroupMembership
    let logger: Logger
    let metrics: EndpointMetrics

    /// The APIs this endpoint serves, with the versions it answers: what ApiVersions advertises.
    /// Produce is served only to be refused: librdkafka reads record batch v2 only from a
    /// broker that advertises Produce v3+ with Fetch v4+.
    /// The group APIs: committed offsets (see `GroupOffsets.swift`) and classic membership
    /// (`GroupCoordinator`).
    static let servedAPIs: [ApiKey] = [
        .produce, .fetch, .listOffsets, .metadata, .apiVersions, .offsetForLeaderEpoch,
        .findCoordinator, .offsetCommit, .offsetFetch, .listGroups, .describeGroups,
        .joinGroup, .syncGroup, .heartbeat, .leaveGroup,
    ]

    /// Served when the endpoint has users, and then first on every connection. SaslHandshake
    /// from v1 only: v0 sends the tokens bare on the socket, outside Kafka's framing.
    static let saslAPIs: [ApiKey] = [.saslHandshake, .saslAuthenticate]

    static func advertisedRanges(sasl: Bool) -> [ApiVersionsResponse.ApiVersionRange] {
        (servedAPIs + (sasl ? saslAPIs : [])).map {
            ApiVersionsResponse.ApiVersionRange(
                apiKey: $0.rawValue, minVersion: $0 == .saslHandshake ? 1 : $0.supportedVersions.lowerBound, maxVersion: $0.supportedVersions.upperBound)
        }
    }

    // MARK: Requests answered without the log

    /// ApiVersions, or the v0 error answer that lists the ranges when the client asked with a
    /// version this endpoint does not know (the client then retries with one listed).
    static func apiVersions(header: RequestHeader, supported: Bool, sasl: Bool = false) -> ByteBuffer {
        let ranges = advertisedRanges(sasl: sasl)
        if supported {
            return KafkaResponseFrame.encode(ApiVersionsResponse(apiKeys: ranges), version: header.apiVersion, correlationID: header.correlationID)
        }
        return KafkaResponseFrame.encode(
            ApiVersionsResponse(errorCode: .unsupportedVersion, apiKeys: ranges), version: 0, correlationID: header.correlationID)
    }

    /// Every partition refused: the pipeline is the log's only writer.
    static func produce(_ request: ProduceRequest, header: RequestHeader, logger: Logger) -> Reply {
        logger.info(
            "refused a Produce request: this endpoint is read-only, the pipeline is the log's only writer",
            metadata: ["kafka.client": "\(header.clientID ?? "")", "kafka.topics": "\(request.topics.map(\.name))"])
        guard request.acks != 0 else { return .close(reason: "Produce with acks=0 to a read-only endpoint") }
        let message = "read-only endpoint: the pipeline is the only writer of this log"
        // TOPIC_AUTHORIZATION_FAILED: writing is what is not allowed, per topic, as a broker
        // answers a producer without WRITE permission; clients report it and do not retry.
        let response = ProduceResponse(refusing: request, errorCode: .topicAuthorizationFailed, errorMessage: message)
        return .frame(KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID))
    }

    // MARK: Requests answered from the log

    /// Topics outside `access` are left out of the list of all topics and answer
    /// TOPIC_AUTHORIZATION_FAILED when asked for by name, as Kafka's brokers do.
    func metadata(_ request: MetadataRequest, header: RequestHeader, broker: BrokerAddress, access: TopicAccess = .everything) throws(SegmentLogError) -> ByteBuffer {
        let counts = try log.partitionCounts()
        func describe(_ name: String, count: Int32) -> MetadataResponse.Topic {
            MetadataResponse.Topic(
                name: name, isInternal: name.hasPrefix("__"),
                partitions: (0..<count).map {
                    MetadataResponse.Partition(
                        partitionIndex: $0, leaderID: BrokerAddress.nodeID, leaderEpoch: 0, replicaNodes: [BrokerAddress.nodeID],
                        isrNodes: [BrokerAddress.nodeID])
                })
        }
        let topics: [MetadataResponse.Topic]
        if let requested = request.topics {
            topics = requested.map { topic in
                if let name = topic.name, !access.allows(name) {
                    return MetadataResponse.Topic(errorCode: .topicAuthorizationFailed, name: name, topicID: topic.topicID, partitions: [])
                }
                guard let name = topic.name, let count = counts[name] else {
                    return MetadataResponse.Topic(errorCode: .unknownTopicOrPartition, name: topic.name, topicID: topic.topicID, partitions: [])
                }
                return describe(name, count: count)
            }
        } else {
            // All topics: the internal ones only when asked for by name, as Kafka's consumers
            // leave internal topics out of wildcard subscriptions.
            topics = counts.filter { !$0.key.hasPrefix("__") && access.allows($0.key) }.sorted { $0.key < $1.key }.map { describe($0.key, count: $0.value) }
        }
        let response = MetadataResponse(brokers: [broker.metadataBroker], clusterID: "outflow", controllerID: BrokerAddress.nodeID, topics: topics)
        return KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID)
    }

    func listOffsets(_ request: ListOffsetsRequest, header: RequestHeader, access: TopicAccess = .everything) throws(SegmentLogError) -> ByteBuffer {
        let counts = try log.partitionCounts()
        let isolation = request.isolationLevel.segmentLogLevel
        var topics: [ListOffsetsResponse.Topic] = []
        for topic in request.topics {
            var partitions: [ListOffsetsResponse.Partition] = []
            for partition in topic.partitions {
                let index = partition.partitionIndex
                guard access.allows(topic.name) else {
                    partitions.append(ListOffsetsResponse.Partition(partitionIndex: index, errorCode: .topicAuthorizationFailed))
                    continue
                }
                guard let tp = Self.topicPartition(topic.name, index, counts) else {
                    partitions.append(ListOffsetsResponse.Partition(partitionIndex: index, errorCode: .unknownTopicOrPartition))
                    continue
                }
                switch partition.timestamp {
                case ListOffsetsRequest.earliestTimestamp:
                    let offsets = try log.offsets(tp, isolation: isolation)
                    partitions.append(ListOffsetsResponse.Partition(partitionIndex: index, offset: offsets.logStartOffset, leaderEpoch: 0))
                case ListOffsetsRequest.latestTimestamp:
                    let offsets = try log.offsets(tp, isolation: isolation)
                    let latest = isolation == .readCommitted ? offsets.lastStableOffset : offsets.endOffset
                    partitions.append(ListOffsetsResponse.Partition(partitionIndex: index, offset: latest, leaderEpoch: 0))
                case let timestamp where timestamp >= 0:
                    // No such record: offset and timestamp -1, as Kafka answers.
                    let found = try log.firstRecord(atOrAfter: timestamp, in: tp, isolation: isolation)
                    partitions.append(
                        ListOffsetsResponse.Partition(partitionIndex: index, timestamp: found?.timestamp ?? -1, offset: found?.offset ?? -1, leaderEpoch: 0))
                default:
                    // -3 (the record with the largest timestamp) and other special values.
                    partitions.append(ListOffsetsResponse.Partition(partitionIndex: index, errorCode: .unsupportedVersion))
                }
            }
            topics.append(ListOffsetsResponse.Topic(name: topic.name, partitions: partitions))
        }
        return KafkaResponseFrame.encode(ListOffsetsResponse(topics: topics), version: header.apiVersion, correlationID: header.correlationID)
    }

    /// One epoch (0) for the whole log: its end offset is the partition's end offset.
    func offsetForLeaderEpoch(_ request: OffsetForLeaderEpochRequest, header: RequestHeader, access: TopicAccess = .everything) throws(SegmentLogError) -> ByteBuffer {
        let counts = try log.partitionCounts()
        var topics: [OffsetForLeaderEpochResponse.Topic] = []
        for topic in request.topics {
            var partitions: [OffsetForLeaderEpochResponse.Partition] = []
            for partition in topic.partitions {
                guard access.allows(topic.name) else {
                    partitions.append(OffsetForLeaderEpochResponse.Partition(errorCode: .topicAuthorizationFailed, partition: partition.partition))
                    continue
                }
                guard let tp = Self.topicPartition(topic.name, partition.partition, counts) else {
                    partitions.append(OffsetForLeaderEpochResponse.Partition(errorCode: .unknownTopicOrPartition, partition: partition.partition))
                    continue
                }
                let offsets = try log.offsets(tp, isolation: .readUncommitted)
                partitions.append(OffsetForLeaderEpochResponse.Partition(partition: partition.partition, leaderEpoch: 0, endOffset: offsets.endOffset))
            }
            topics.append(OffsetForLeaderEpochResponse.Topic(name: topic.name, partitions: partitions))
        }
        return KafkaResponseFrame.encode(OffsetForLeaderEpochResponse(topics: topics), version: header.apiVersion, correlationID: header.correlationID)
    }

    /// One read of every partition a Fetch names, and what the long poll needs to decide.
    struct FetchRead: Sendable {
        var response: FetchResponse
        var recordBytes: Int
        /// Records in the data batches of the response (from their headers).
        var records = 0
        var anyPartitionFailed: Bool
    }

    /// Reads what `request` asks for: the stored batches as they are, within `byteLimit` (what
    /// the endpoint's fetch memory granted, at most the request's max_bytes) and each
    /// partition's limit (the first batch always, so a consumer makes progress).
    func readFetch(_ request: FetchRequest, byteLimit: Int, access: TopicAccess = .everything) throws(SegmentLogError) -> FetchRead {
        let counts = try log.partitionCounts()
        let isolation = request.isolationLevel.segmentLogLevel
        var budget = max(0, min(Int(max(0, request.maxBytes)), byteLimit))
        var recordBytes = 0
        var recordCount = 0
        var anyPartitionFailed = false
        var topics: [FetchResponse.Topic] = []
        for topic in request.topics {
            var partitions: [FetchResponse.Partition] = []
            for partition in topic.partitions {
                let index = partition.partition
                guard access.allows(topic.name) else {
                    anyPartitionFailed = true
                    partitions.append(FetchResponse.Partition(partitionIndex: index, errorCode: .topicAuthorizationFailed, highWatermark: -1, records: ByteBuffer()))
                    continue
                }
                guard let tp = Self.topicPartition(topic.name, index, counts) else {
                    anyPartitionFailed = true
                    partitions.append(FetchResponse.Partition(partitionIndex: index, errorCode: .unknownTopicOrPartition, highWatermark: -1, records: ByteBuffer()))
                    continue
                }
                let limit = min(Int(max(0, partition.partitionMaxBytes)), budget)
                // The response's first batch goes whatever the limits; once the response has
                // records and no budget left, the other partitions report their bounds only.
                let full = recordBytes > 0 && budget == 0
                switch try log.fetch(tp, isolation: isolation, from: partition.fetchOffset, maxBytes: full ? 0 : max(1, limit)) {
                case .offsetOutOfRange(let offsets):
                    anyPartitionFailed = true
                    partitions.append(Self.fetchPartition(index, offsets, error: .offsetOutOfRange, isolation: isolation))
                case .batches(let fetched):
                    let size = fetched.batches.reduce(0) { $0 + $1.bytes.count }
                    var answer = Self.fetchPartition(index, fetched.offsets, error: .none, isolation: isolation)
                    // Past the response's budget only the very first batch of the response is
                    // sent whatever its size; later partitions wait for the next fetch.
                    if size > 0 && (recordBytes == 0 || size <= budget) {
                        var records = ByteBuffer()
                        records.reserveCapacity(size)
                        for batch in fetched.batches { records.writeBytes(batch.bytes) }
                        answer.records = records
                        if isolation == .readCommitted {
                            answer.abortedTransactions = fetched.abortedTransactions.map {
                                FetchResponse.AbortedTransaction(producerID: $0.producerId, firstOffset: $0.firstOffset)
                            }
                        }
                        recordBytes += size
                        recordCount += fetched.batches.reduce(0) { $0 + ($1.header.isControl ? 0 : Int($1.header.recordsCount)) }
                        budget = max(0, budget - size)
                    }
                    partitions.append(answer)
                }
            }
            topics.append(FetchResponse.Topic(name: topic.name, partitions: partitions))
        }
        return FetchRead(response: FetchResponse(responses: topics), recordBytes: recordBytes, records: recordCount, anyPartitionFailed: anyPartitionFailed)
    }

    /// Records are an empty run, never null, when there are none: kafka-python cannot read a
    /// null record set, and Kafka's brokers never send one.
    private static func fetchPartition(
        _ index: Int32, _ offsets: PartitionOffsets, error: KafkaErrorCode, isolation: SegmentLog.IsolationLevel
    ) -> FetchResponse.Partition {
        FetchResponse.Partition(
            partitionIndex: index, errorCode: error, highWatermark: offsets.endOffset, lastStableOffset: offsets.lastStableOffset,
            logStartOffset: offsets.logStartOffset, abortedTransactions: isolation == .readCommitted ? [] : nil, records: ByteBuffer())
    }

    /// The partition if the log has it (declared or written), else nil.
    static func topicPartition(_ topic: String, _ partition: Int32, _ counts: [String: Int32]) -> TopicPartition? {
        guard let count = counts[topic], partition >= 0, partition < count else { return nil }
        return try? TopicPartition(topic: topic, partition: partition)
    }
}

extension KafkaProtocol.IsolationLevel {
    var segmentLogLevel: SegmentLog.IsolationLevel {
        switch self {
        case .readCommitted: .readCommitted
        case .readUncommitted: .readUncommitted
        }
    }
}
