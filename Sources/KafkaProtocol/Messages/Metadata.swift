import NIOCore

/// Metadata (3) request: which topics the client wants brokers, partitions and leaders for.
public struct MetadataRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.metadata
    public static let messageName: StaticString = "MetadataRequest"

    public struct Topic: KafkaStructure {
        /// v10+.
        public var topicID: KafkaUUID
        /// Nullable from v10 (a topic asked for by id only).
        public var name: String?

        public init(topicID: KafkaUUID = .zero, name: String?) {
            self.topicID = topicID
            self.name = name
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let topicID = version >= 10 ? try reader.readUUID("topic_id") : KafkaUUID.zero
            let name = version >= 10 ? try reader.readNullableString("name") : try reader.readString("name")
            try reader.skipTaggedFields()
            return Self(topicID: topicID, name: name)
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            if version >= 10 { writer.writeUUID(topicID) }
            if version >= 10 { writer.writeNullableString(name) } else { writer.writeString(name ?? "") }
            writer.writeEmptyTaggedFields()
        }
    }

    /// nil asks for every topic (v1+; in v0 an empty list did).
    public var topics: [Topic]?
    /// v4+; before v4 the broker's configuration decided, and default true matches it.
    public var allowAutoTopicCreation: Bool
    /// v8–v10.
    public var includeClusterAuthorizedOperations: Bool
    /// v8+.
    public var includeTopicAuthorizedOperations: Bool

    public init(
        topics: [Topic]?, allowAutoTopicCreation: Bool = true, includeClusterAuthorizedOperations: Bool = false,
        includeTopicAuthorizedOperations: Bool = false
    ) {
        self.topics = topics
        self.allowAutoTopicCreation = allowAutoTopicCreation
        self.includeClusterAuthorizedOperations = includeClusterAuthorizedOperations
        self.includeTopicAuthorizedOperations = includeTopicAuthorizedOperations
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        var request = Self(topics: try reader.readNullableArray("topics", of: Topic.self, version: version))
        if request.topics == nil, version >= 9 { reader.skipLibrdkafkaNullArrayPadding(tail: version <= 10 ? 4 : 3) }
        if version >= 4 { request.allowAutoTopicCreation = try reader.readBool("allow_auto_topic_creation") }
        if (8...10).contains(version) {
            request.includeClusterAuthorizedOperations = try reader.readBool("include_cluster_authorized_operations")
        }
        if version >= 8 { request.includeTopicAuthorizedOperations = try reader.readBool("include_topic_authorized_operations") }
        return request
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeNullableArray(topics, version: version)
        if version >= 4 { writer.writeBool(allowAutoTopicCreation) }
        if (8...10).contains(version) { writer.writeBool(includeClusterAuthorizedOperations) }
        if version >= 8 { writer.writeBool(includeTopicAuthorizedOperations) }
    }
}

/// Metadata (3) response: the brokers (for this endpoint, itself alone), the topics and each
/// partition's leader.
public struct MetadataResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.metadata
    public static let messageName: StaticString = "MetadataResponse"

    /// Kafka's value for "authorized operations were not asked for".
    public static let authorizedOperationsOmitted = Int32.min

    public struct Broker: KafkaStructure {
        public var nodeID: Int32
        public var host: String
        public var port: Int32
        /// v1+.
        public var rack: String?

        public init(nodeID: Int32, host: String, port: Int32, rack: String? = nil) {
            self.nodeID = nodeID
            self.host = host
            self.port = port
            self.rack = rack
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            var broker = try Self(nodeID: reader.readInteger("node_id"), host: reader.readString("host"), port: reader.readInteger("port"))
            if version >= 1 { broker.rack = try reader.readNullableString("rack") }
            try reader.skipTaggedFields()
            return broker
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(nodeID)
            writer.writeString(host)
            writer.writeInteger(port)
            if version >= 1 { writer.writeNullableString(rack) }
            writer.writeEmptyTaggedFields()
        }
    }

    public struct Partition: KafkaStructure {
        public var errorCode: KafkaErrorCode
        public var partitionIndex: Int32
        public var leaderID: Int32
        /// v7+.
        public var leaderEpoch: Int32
        public var replicaNodes: [Int32]
        public var isrNodes: [Int32]
        /// v5+.
        public var offlineReplicas: [Int32]

        public init(
            errorCode: KafkaErrorCode = .none, partitionIndex: Int32, leaderID: Int32, leaderEpoch: Int32 = -1,
            replicaNodes: [Int32], isrNodes: [Int32], offlineReplicas: [Int32] = []
        ) {
            self.errorCode = errorCode
            self.partitionIndex = partitionIndex
            self.leaderID = leaderID
            self.leaderEpoch = leaderEpoch
            self.replicaNodes = replicaNodes
            self.isrNodes = isrNodes
            self.offlineReplicas = offlineReplicas
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let errorCode = try reader.readErrorCode()
            let partitionIndex: Int32 = try reader.readInteger("partition_index")
            let leaderID: Int32 = try reader.readInteger("leader_id")
            let leaderEpoch: Int32 = version >= 7 ? try reader.readInteger("leader_epoch") : -1
            let replicaNodes = try reader.readInt32Array("replica_nodes")
            let isrNodes = try reader.readInt32Array("isr_nodes")
            let offlineReplicas = version >= 5 ? try reader.readInt32Array("offline_replicas") : []
            try reader.skipTaggedFields()
            return Self(
                errorCode: errorCode, partitionIndex: partitionIndex, leaderID: leaderID, leaderEpoch: leaderEpoch,
                replicaNodes: replicaNodes, isrNodes: isrNodes, offlineReplicas: offlineReplicas
            )
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeErrorCode(errorCode)
            writer.writeInteger(partitionIndex)
            writer.writeInteger(leaderID)
            if version >= 7 { writer.writeInteger(leaderEpoch) }
            writer.writeInt32Array(replicaNodes)
            writer.writeInt32Array(isrNodes)
            if version >= 5 { writer.writeInt32Array(offlineReplicas) }
            writer.writeEmptyTaggedFields()
        }
    }

    public struct Topic: KafkaStructure {
        public var errorCode: KafkaErrorCode
        /// Nullable from v12 (a topic asked for by an unknown id); written as "" before.
        public var name: String?
        /// v10+.
        public var topicID: KafkaUUID
        /// v1+.
        public var isInternal: Bool
        public var partitions: [Partition]
        /// v8+.
        public var topicAuthorizedOperations: Int32

        public init(
            errorCode: KafkaErrorCode = .none, name: String?, topicID: KafkaUUID = .zero, isInternal: Bool = false,
            partitions: [Partition], topicAuthorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted
        ) {
            self.errorCode = errorCode
            self.name = name
            self.topicID = topicID
            self.isInternal = isInternal
            self.partitions = partitions
            self.topicAuthorizedOperations = topicAuthorizedOperations
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let errorCode = try reader.readErrorCode()
            let name = version >= 12 ? try reader.readNullableString("name") : try reader.readString("name")
            let topicID = version >= 10 ? try reader.readUUID("topic_id") : KafkaUUID.zero
            let isInternal = version >= 1 ? try reader.readBool("is_internal") : false
            let partitions = try reader.readArray("partitions", of: Partition.self, version: version)
            let operations = version >= 8 ? try reader.readInteger("topic_authorized_operations") : MetadataResponse.authorizedOperationsOmitted
            try reader.skipTaggedFields()
            return Self(
                errorCode: errorCode, name: name, topicID: topicID, isInternal: isInternal, partitions: partitions,
                topicAuthorizedOperations: operations
            )
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeErrorCode(errorCode)
            if version >= 12 { writer.writeNullableString(name) } else { writer.writeString(name ?? "") }
            if version >= 10 { writer.writeUUID(topicID) }
            if version >= 1 { writer.writeBool(isInternal) }
            writer.writeArray(partitions, version: version)
            if version >= 8 { writer.writeInteger(topicAuthorizedOperations) }
            writer.writeEmptyTaggedFields()
        }
    }

    /// v3+.
    public var throttleTimeMs: Int32
    public var brokers: [Broker]
    /// v2+.
    public var clusterID: String?
    /// v1+.
    public var controllerID: Int32
    public var topics: [Topic]
    /// v8–v10.
    public var clusterAuthorizedOperations: Int32

    public init(
        throttleTimeMs: Int32 = 0, brokers: [Broker], clusterID: String? = nil, controllerID: Int32 = -1, topics: [Topic],
        clusterAuthorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.brokers = brokers
        self.clusterID = clusterID
        self.controllerID = controllerID
        self.topics = topics
        self.clusterAuthorizedOperations = clusterAuthorizedOperations
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 3 ? try reader.readInteger("throttle_time_ms") : 0
        let brokers = try reader.readArray("brokers", of: Broker.self, version: version)
        let clusterID = version >= 2 ? try reader.readNullableString("cluster_id") : nil
        let controllerID: Int32 = version >= 1 ? try reader.readInteger("controller_id") : -1
        let topics = try reader.readArray("topics", of: Topic.self, version: version)
        let operations = (8...10).contains(version) ? try reader.readInteger("cluster_authorized_operations") : authorizedOperationsOmitted
        return Self(
            throttleTimeMs: throttleTimeMs, brokers: brokers, clusterID: clusterID, controllerID: controllerID, topics: topics,
            clusterAuthorizedOperations: operations
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 3 { writer.writeInteger(throttleTimeMs) }
        writer.writeArray(brokers, version: version)
        if version >= 2 { writer.writeNullableString(clusterID) }
        if version >= 1 { writer.writeInteger(controllerID) }
        writer.writeArray(topics, version: version)
        if (8...10).contains(version) { writer.writeInteger(clusterAuthorizedOperations) }
    }
}
