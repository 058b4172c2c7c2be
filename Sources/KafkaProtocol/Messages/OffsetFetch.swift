import NIOCore

/// OffsetFetch (9) request: a group's committed offsets for some partitions, or (v2+, topics
/// null) for all it has. v8's batch of groups is not implemented.
public struct OffsetFetchRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.offsetFetch
    public static let messageName: StaticString = "OffsetFetchRequest"

    public struct Topic: KafkaStructure {
        public var name: String
        public var partitionIndexes: [Int32]

        public init(name: String, partitionIndexes: [Int32]) {
            self.name = name
            self.partitionIndexes = partitionIndexes
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let topic = try Self(name: reader.readString("name"), partitionIndexes: reader.readInt32Array("partition_indexes"))
            try reader.skipTaggedFields()
            return topic
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(name)
            writer.writeInt32Array(partitionIndexes)
            writer.writeEmptyTaggedFields()
        }
    }

    public var groupID: String
    /// nil (v2+) asks for every partition the group has committed.
    public var topics: [Topic]?
    /// v7+: fail with UNSTABLE_OFFSET_COMMIT rather than return offsets of open transactions.
    public var requireStable: Bool

    public init(groupID: String, topics: [Topic]?, requireStable: Bool = false) {
        self.groupID = groupID
        self.topics = topics
        self.requireStable = requireStable
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let groupID = try reader.readString("group_id")
        let topics = version >= 2 ? try reader.readNullableArray("topics", of: Topic.self, version: version) : try reader.readArray("topics", of: Topic.self, version: version)
        let requireStable = version >= 7 ? try reader.readBool("require_stable") : false
        return Self(groupID: groupID, topics: topics, requireStable: requireStable)
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(groupID)
        if version >= 2 { writer.writeNullableArray(topics, version: version) } else { writer.writeArray(topics ?? [], version: version) }
        if version >= 7 { writer.writeBool(requireStable) }
    }
}

/// OffsetFetch (9) response.
public struct OffsetFetchResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.offsetFetch
    public static let messageName: StaticString = "OffsetFetchResponse"

    public struct Partition: KafkaStructure {
        public var partitionIndex: Int32
        /// -1 when the group has no committed offset for the partition.
        public var committedOffset: Int64
        /// v5+.
        public var committedLeaderEpoch: Int32
        public var metadata: String?
        public var errorCode: KafkaErrorCode

        public init(partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1, metadata: String? = "", errorCode: KafkaErrorCode = .none) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.metadata = metadata
            self.errorCode = errorCode
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partitionIndex: Int32 = try reader.readInteger("partition_index")
            let committedOffset: Int64 = try reader.readInteger("committed_offset")
            let epoch: Int32 = version >= 5 ? try reader.readInteger("committed_leader_epoch") : -1
            let metadata = try reader.readNullableString("metadata")
            let errorCode = try reader.readErrorCode()
            try reader.skipTaggedFields()
            return Self(partitionIndex: partitionIndex, committedOffset: committedOffset, committedLeaderEpoch: epoch, metadata: metadata, errorCode: errorCode)
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partitionIndex)
            writer.writeInteger(committedOffset)
            if version >= 5 { writer.writeInteger(committedLeaderEpoch) }
            writer.writeNullableString(metadata)
            writer.writeErrorCode(errorCode)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions.
    public typealias Topic = KafkaTopic<Partition>

    /// v3+.
    public var throttleTimeMs: Int32
    public var topics: [Topic]
    /// v2+: a group-level error (v0–v1 can only report errors per partition).
    public var errorCode: KafkaErrorCode

    public init(throttleTimeMs: Int32 = 0, topics: [Topic], errorCode: KafkaErrorCode = .none) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
        self.errorCode = errorCode
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 3 ? try reader.readInteger("throttle_time_ms") : 0
        let topics = try reader.readArray("topics", of: Topic.self, version: version)
        let errorCode = version >= 2 ? try reader.readErrorCode() : .none
        return Self(throttleTimeMs: throttleTimeMs, topics: topics, errorCode: errorCode)
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 3 { writer.writeInteger(throttleTimeMs) }
        writer.writeArray(topics, version: version)
        if version >= 2 { writer.writeErrorCode(errorCode) }
    }
}
