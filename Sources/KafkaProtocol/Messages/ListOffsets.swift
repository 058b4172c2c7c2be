import NIOCore

/// The isolation level of a Fetch or ListOffsets request (KIP-98).
public enum IsolationLevel: Int8, Sendable, Hashable {
    /// Every record, aborted transactions included, up to the high watermark.
    case readUncommitted = 0
    /// Records up to the last stable offset; the client drops aborted transactions itself,
    /// with the list the Fetch response carries.
    case readCommitted = 1
}

extension KafkaReader {
    mutating func readIsolationLevel() throws(KafkaProtocolError) -> IsolationLevel {
        let at = offset
        let raw: Int8 = try readInteger("isolation_level")
        guard let level = IsolationLevel(rawValue: raw) else {
            throw error(.invalidValue, at: at, "isolation_level must be 0 or 1, found \(raw)")
        }
        return level
    }
}

/// ListOffsets (2) request: an offset per partition for a timestamp, or one of the special
/// timestamps (-1 latest, -2 earliest, -3 max timestamp).
public struct ListOffsetsRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.listOffsets
    public static let messageName: StaticString = "ListOffsetsRequest"

    public static let latestTimestamp: Int64 = -1
    public static let earliestTimestamp: Int64 = -2

    public struct Partition: KafkaStructure {
        public var partitionIndex: Int32
        /// v4+.
        public var currentLeaderEpoch: Int32
        public var timestamp: Int64

        public init(partitionIndex: Int32, currentLeaderEpoch: Int32 = -1, timestamp: Int64) {
            self.partitionIndex = partitionIndex
            self.currentLeaderEpoch = currentLeaderEpoch
            self.timestamp = timestamp
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partitionIndex: Int32 = try reader.readInteger("partition_index")
            let epoch: Int32 = version >= 4 ? try reader.readInteger("current_leader_epoch") : -1
            let timestamp: Int64 = try reader.readInteger("timestamp")
            try reader.skipTaggedFields()
            return Self(partitionIndex: partitionIndex, currentLeaderEpoch: epoch, timestamp: timestamp)
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partitionIndex)
            if version >= 4 { writer.writeInteger(currentLeaderEpoch) }
            writer.writeInteger(timestamp)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    /// -1 for a consumer.
    public var replicaID: Int32
    /// v2+.
    public var isolationLevel: IsolationLevel
    public var topics: [Topic]

    public init(replicaID: Int32 = -1, isolationLevel: IsolationLevel = .readUncommitted, topics: [Topic]) {
        self.replicaID = replicaID
        self.isolationLevel = isolationLevel
        self.topics = topics
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let replicaID: Int32 = try reader.readInteger("replica_id")
        let isolationLevel = version >= 2 ? try reader.readIsolationLevel() : .readUncommitted
        return Self(replicaID: replicaID, isolationLevel: isolationLevel, topics: try reader.readArray("topics", of: Topic.self, version: version))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeInteger(replicaID)
        if version >= 2 { writer.writeInteger(isolationLevel.rawValue) }
        writer.writeArray(topics, version: version)
    }
}

/// ListOffsets (2) response.
public struct ListOffsetsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.listOffsets
    public static let messageName: StaticString = "ListOffsetsResponse"

    public struct Partition: KafkaStructure {
        public var partitionIndex: Int32
        public var errorCode: KafkaErrorCode
        public var timestamp: Int64
        public var offset: Int64
        /// v4+.
        public var leaderEpoch: Int32

        public init(partitionIndex: Int32, errorCode: KafkaErrorCode = .none, timestamp: Int64 = -1, offset: Int64 = -1, leaderEpoch: Int32 = -1) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.timestamp = timestamp
            self.offset = offset
            self.leaderEpoch = leaderEpoch
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            var partition = try Self(
                partitionIndex: reader.readInteger("partition_index"), errorCode: reader.readErrorCode(),
                timestamp: reader.readInteger("timestamp"), offset: reader.readInteger("offset")
            )
            if version >= 4 { partition.leaderEpoch = try reader.readInteger("leader_epoch") }
            try reader.skipTaggedFields()
            return partition
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partitionIndex)
            writer.writeErrorCode(errorCode)
            writer.writeInteger(timestamp)
            writer.writeInteger(offset)
            if version >= 4 { writer.writeInteger(leaderEpoch) }
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    /// v2+.
    public var throttleTimeMs: Int32
    public var topics: [Topic]

    public init(throttleTimeMs: Int32 = 0, topics: [Topic]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 2 ? try reader.readInteger("throttle_time_ms") : 0
        return Self(throttleTimeMs: throttleTimeMs, topics: try reader.readArray("topics", of: Topic.self, version: version))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 2 { writer.writeInteger(throttleTimeMs) }
        writer.writeArray(topics, version: version)
    }
}
