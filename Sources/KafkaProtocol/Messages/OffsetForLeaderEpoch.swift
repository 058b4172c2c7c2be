import NIOCore

/// OffsetForLeaderEpoch (23) request: the end offset of a leader epoch, which a consumer uses
/// after a leader change to detect a truncated log (KIP-320).
public struct OffsetForLeaderEpochRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.offsetForLeaderEpoch
    public static let messageName: StaticString = "OffsetForLeaderEpochRequest"

    /// Kafka's replica id for a consumer in v3+ (-1 is a follower debugging, per the schema).
    public static let consumerReplicaID: Int32 = -2

    public struct Partition: KafkaStructure {
        public var partition: Int32
        /// v2+.
        public var currentLeaderEpoch: Int32
        public var leaderEpoch: Int32

        public init(partition: Int32, currentLeaderEpoch: Int32 = -1, leaderEpoch: Int32) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.leaderEpoch = leaderEpoch
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partition: Int32 = try reader.readInteger("partition")
            let current: Int32 = version >= 2 ? try reader.readInteger("current_leader_epoch") : -1
            let leaderEpoch: Int32 = try reader.readInteger("leader_epoch")
            try reader.skipTaggedFields()
            return Self(partition: partition, currentLeaderEpoch: current, leaderEpoch: leaderEpoch)
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partition)
            if version >= 2 { writer.writeInteger(currentLeaderEpoch) }
            writer.writeInteger(leaderEpoch)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    /// v3+.
    public var replicaID: Int32
    public var topics: [Topic]

    public init(replicaID: Int32 = OffsetForLeaderEpochRequest.consumerReplicaID, topics: [Topic]) {
        self.replicaID = replicaID
        self.topics = topics
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let replicaID: Int32 = version >= 3 ? try reader.readInteger("replica_id") : consumerReplicaID
        return Self(replicaID: replicaID, topics: try reader.readArray("topics", of: Topic.self, version: version))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 3 { writer.writeInteger(replicaID) }
        writer.writeArray(topics, version: version)
    }
}

/// OffsetForLeaderEpoch (23) response.
public struct OffsetForLeaderEpochResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.offsetForLeaderEpoch
    public static let messageName: StaticString = "OffsetForLeaderEpochResponse"

    public struct Partition: KafkaStructure {
        public var errorCode: KafkaErrorCode
        public var partition: Int32
        public var leaderEpoch: Int32
        public var endOffset: Int64

        public init(errorCode: KafkaErrorCode = .none, partition: Int32, leaderEpoch: Int32 = -1, endOffset: Int64 = -1) {
            self.errorCode = errorCode
            self.partition = partition
            self.leaderEpoch = leaderEpoch
            self.endOffset = endOffset
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partition = try Self(
                errorCode: reader.readErrorCode(), partition: reader.readInteger("partition"),
                leaderEpoch: reader.readInteger("leader_epoch"), endOffset: reader.readInteger("end_offset")
            )
            try reader.skipTaggedFields()
            return partition
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeErrorCode(errorCode)
            writer.writeInteger(partition)
            writer.writeInteger(leaderEpoch)
            writer.writeInteger(endOffset)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    public var throttleTimeMs: Int32
    public var topics: [Topic]

    public init(throttleTimeMs: Int32 = 0, topics: [Topic]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    // Every supported version (v2+) has the throttle time and the leader epoch.
    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        try Self(throttleTimeMs: reader.readInteger("throttle_time_ms"), topics: reader.readArray("topics", of: Topic.self, version: version))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeInteger(throttleTimeMs)
        writer.writeArray(topics, version: version)
    }
}
