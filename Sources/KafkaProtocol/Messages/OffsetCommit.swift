import NIOCore

/// OffsetCommit (8) request: a group's committed offsets.
public struct OffsetCommitRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.offsetCommit
    public static let messageName: StaticString = "OffsetCommitRequest"

    public struct Partition: KafkaStructure {
        public var partitionIndex: Int32
        public var committedOffset: Int64
        /// v6+.
        public var committedLeaderEpoch: Int32
        public var committedMetadata: String?

        public init(partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1, committedMetadata: String? = nil) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.committedMetadata = committedMetadata
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partitionIndex: Int32 = try reader.readInteger("partition_index")
            let committedOffset: Int64 = try reader.readInteger("committed_offset")
            let epoch: Int32 = version >= 6 ? try reader.readInteger("committed_leader_epoch") : -1
            let metadata = try reader.readNullableString("committed_metadata")
            try reader.skipTaggedFields()
            return Self(partitionIndex: partitionIndex, committedOffset: committedOffset, committedLeaderEpoch: epoch, committedMetadata: metadata)
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partitionIndex)
            writer.writeInteger(committedOffset)
            if version >= 6 { writer.writeInteger(committedLeaderEpoch) }
            writer.writeNullableString(committedMetadata)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    public var groupID: String
    /// -1 for a commit from outside the group (a standalone consumer).
    public var generationID: Int32
    public var memberID: String
    /// v7+.
    public var groupInstanceID: String?
    /// v2–v4; -1 for the broker's default retention.
    public var retentionTimeMs: Int64
    public var topics: [Topic]

    public init(
        groupID: String, generationID: Int32 = -1, memberID: String = "", groupInstanceID: String? = nil, retentionTimeMs: Int64 = -1,
        topics: [Topic]
    ) {
        self.groupID = groupID
        self.generationID = generationID
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.retentionTimeMs = retentionTimeMs
        self.topics = topics
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let groupID = try reader.readString("group_id")
        let generationID: Int32 = try reader.readInteger("generation_id_or_member_epoch")
        let memberID = try reader.readString("member_id")
        let groupInstanceID = version >= 7 ? try reader.readNullableString("group_instance_id") : nil
        let retentionTimeMs: Int64 = version <= 4 ? try reader.readInteger("retention_time_ms") : -1
        let topics = try reader.readArray("topics", of: Topic.self, version: version)
        return Self(
            groupID: groupID, generationID: generationID, memberID: memberID, groupInstanceID: groupInstanceID,
            retentionTimeMs: retentionTimeMs, topics: topics
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(groupID)
        writer.writeInteger(generationID)
        writer.writeString(memberID)
        if version >= 7 { writer.writeNullableString(groupInstanceID) }
        if version <= 4 { writer.writeInteger(retentionTimeMs) }
        writer.writeArray(topics, version: version)
    }
}

/// OffsetCommit (8) response: an error code per partition.
public struct OffsetCommitResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.offsetCommit
    public static let messageName: StaticString = "OffsetCommitResponse"

    public struct Partition: KafkaStructure {
        public var partitionIndex: Int32
        public var errorCode: KafkaErrorCode

        public init(partitionIndex: Int32, errorCode: KafkaErrorCode = .none) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partition = try Self(partitionIndex: reader.readInteger("partition_index"), errorCode: reader.readErrorCode())
            try reader.skipTaggedFields()
            return partition
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partitionIndex)
            writer.writeErrorCode(errorCode)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    /// v3+.
    public var throttleTimeMs: Int32
    public var topics: [Topic]

    public init(throttleTimeMs: Int32 = 0, topics: [Topic]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 3 ? try reader.readInteger("throttle_time_ms") : 0
        return Self(throttleTimeMs: throttleTimeMs, topics: try reader.readArray("topics", of: Topic.self, version: version))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 3 { writer.writeInteger(throttleTimeMs) }
        writer.writeArray(topics, version: version)
    }
}
