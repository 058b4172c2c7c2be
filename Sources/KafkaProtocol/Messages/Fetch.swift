import NIOCore

/// Fetch (1) request: records from each partition from an offset on.
///
/// v4 is the first version with an isolation level (and so the first that speaks record batch
/// v2); v7 adds incremental fetch sessions; v12 is the first flexible version. v13+ name topics
/// by id and are not implemented.
public struct FetchRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.fetch
    public static let messageName: StaticString = "FetchRequest"

    public struct Partition: KafkaStructure {
        public var partition: Int32
        /// v9+.
        public var currentLeaderEpoch: Int32
        public var fetchOffset: Int64
        /// v12+.
        public var lastFetchedEpoch: Int32
        /// v5+: a follower's log start; -1 from consumers.
        public var logStartOffset: Int64
        public var partitionMaxBytes: Int32

        public init(
            partition: Int32, currentLeaderEpoch: Int32 = -1, fetchOffset: Int64, lastFetchedEpoch: Int32 = -1,
            logStartOffset: Int64 = -1, partitionMaxBytes: Int32
        ) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.fetchOffset = fetchOffset
            self.lastFetchedEpoch = lastFetchedEpoch
            self.logStartOffset = logStartOffset
            self.partitionMaxBytes = partitionMaxBytes
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partition: Int32 = try reader.readInteger("partition")
            let currentLeaderEpoch: Int32 = version >= 9 ? try reader.readInteger("current_leader_epoch") : -1
            let fetchOffset: Int64 = try reader.readInteger("fetch_offset")
            let lastFetchedEpoch: Int32 = version >= 12 ? try reader.readInteger("last_fetched_epoch") : -1
            let logStartOffset: Int64 = version >= 5 ? try reader.readInteger("log_start_offset") : -1
            let partitionMaxBytes: Int32 = try reader.readInteger("partition_max_bytes")
            try reader.skipTaggedFields()
            return Self(
                partition: partition, currentLeaderEpoch: currentLeaderEpoch, fetchOffset: fetchOffset,
                lastFetchedEpoch: lastFetchedEpoch, logStartOffset: logStartOffset, partitionMaxBytes: partitionMaxBytes
            )
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partition)
            if version >= 9 { writer.writeInteger(currentLeaderEpoch) }
            writer.writeInteger(fetchOffset)
            if version >= 12 { writer.writeInteger(lastFetchedEpoch) }
            if version >= 5 { writer.writeInteger(logStartOffset) }
            writer.writeInteger(partitionMaxBytes)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    /// In an incremental fetch (v7+), partitions to drop from the session.
    public struct ForgottenTopic: KafkaStructure {
        public var topic: String
        public var partitions: [Int32]

        public init(topic: String, partitions: [Int32]) {
            self.topic = topic
            self.partitions = partitions
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let topic = try Self(topic: reader.readString("topic"), partitions: reader.readInt32Array("partitions"))
            try reader.skipTaggedFields()
            return topic
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(topic)
            writer.writeInt32Array(partitions)
            writer.writeEmptyTaggedFields()
        }
    }

    /// -1 for a consumer.
    public var replicaID: Int32
    public var maxWaitMs: Int32
    public var minBytes: Int32
    public var maxBytes: Int32
    public var isolationLevel: IsolationLevel
    /// v7+: 0 outside a fetch session.
    public var sessionID: Int32
    /// v7+: -1 outside a fetch session.
    public var sessionEpoch: Int32
    public var topics: [Topic]
    /// v7+.
    public var forgottenTopics: [ForgottenTopic]
    /// v11+.
    public var rackID: String

    public init(
        replicaID: Int32 = -1, maxWaitMs: Int32, minBytes: Int32, maxBytes: Int32 = .max,
        isolationLevel: IsolationLevel = .readUncommitted, sessionID: Int32 = 0, sessionEpoch: Int32 = -1,
        topics: [Topic], forgottenTopics: [ForgottenTopic] = [], rackID: String = ""
    ) {
        self.replicaID = replicaID
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.isolationLevel = isolationLevel
        self.sessionID = sessionID
        self.sessionEpoch = sessionEpoch
        self.topics = topics
        self.forgottenTopics = forgottenTopics
        self.rackID = rackID
    }

    // Every supported version (v4+) has max_bytes and isolation_level.
    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let replicaID: Int32 = try reader.readInteger("replica_id")
        let maxWaitMs: Int32 = try reader.readInteger("max_wait_ms")
        let minBytes: Int32 = try reader.readInteger("min_bytes")
        let maxBytes: Int32 = try reader.readInteger("max_bytes")
        let isolationLevel = try reader.readIsolationLevel()
        let sessionID: Int32 = version >= 7 ? try reader.readInteger("session_id") : 0
        let sessionEpoch: Int32 = version >= 7 ? try reader.readInteger("session_epoch") : -1
        let topics = try reader.readArray("topics", of: Topic.self, version: version)
        let forgotten = version >= 7 ? try reader.readArray("forgotten_topics_data", of: ForgottenTopic.self, version: version) : []
        let rackID = version >= 11 ? try reader.readString("rack_id") : ""
        return Self(
            replicaID: replicaID, maxWaitMs: maxWaitMs, minBytes: minBytes, maxBytes: maxBytes, isolationLevel: isolationLevel,
            sessionID: sessionID, sessionEpoch: sessionEpoch, topics: topics, forgottenTopics: forgotten, rackID: rackID
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeInteger(replicaID)
        writer.writeInteger(maxWaitMs)
        writer.writeInteger(minBytes)
        writer.writeInteger(maxBytes)
        writer.writeInteger(isolationLevel.rawValue)
        if version >= 7 {
            writer.writeInteger(sessionID)
            writer.writeInteger(sessionEpoch)
        }
        writer.writeArray(topics, version: version)
        if version >= 7 { writer.writeArray(forgottenTopics, version: version) }
        if version >= 11 { writer.writeString(rackID) }
    }
}

/// Fetch (1) response.
///
/// A partition's `records` are the stored record batches as they are: the endpoint hands a
/// slice of the log's bytes in, and encoding copies it once, into the frame. Nothing in this
/// module parses or re-encodes them.
public struct FetchResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.fetch
    public static let messageName: StaticString = "FetchResponse"

    /// An aborted transaction overlapping the fetched range: the client drops that producer's
    /// records from `firstOffset` on until it meets the producer's ABORT marker.
    public struct AbortedTransaction: KafkaStructure {
        public var producerID: Int64
        public var firstOffset: Int64

        public init(producerID: Int64, firstOffset: Int64) {
            self.producerID = producerID
            self.firstOffset = firstOffset
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let transaction = try Self(producerID: reader.readInteger("producer_id"), firstOffset: reader.readInteger("first_offset"))
            try reader.skipTaggedFields()
            return transaction
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(producerID)
            writer.writeInteger(firstOffset)
            writer.writeEmptyTaggedFields()
        }
    }

    public struct Partition: KafkaStructure {
        public var partitionIndex: Int32
        public var errorCode: KafkaErrorCode
        public var highWatermark: Int64
        public var lastStableOffset: Int64
        /// v5+.
        public var logStartOffset: Int64
        /// nil ("none") or the aborted transactions of the range; sent for read_committed.
        public var abortedTransactions: [AbortedTransaction]?
        /// v11+: -1, this broker.
        public var preferredReadReplica: Int32
        /// Stored record batches, unmodified; nil for none (Kafka writes an empty run instead,
        /// and both are read by clients as "no records").
        public var records: ByteBuffer?

        public init(
            partitionIndex: Int32, errorCode: KafkaErrorCode = .none, highWatermark: Int64, lastStableOffset: Int64 = -1,
            logStartOffset: Int64 = -1, abortedTransactions: [AbortedTransaction]? = nil, preferredReadReplica: Int32 = -1,
            records: ByteBuffer?
        ) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.highWatermark = highWatermark
            self.lastStableOffset = lastStableOffset
            self.logStartOffset = logStartOffset
            self.abortedTransactions = abortedTransactions
            self.preferredReadReplica = preferredReadReplica
            self.records = records
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partitionIndex: Int32 = try reader.readInteger("partition_index")
            let errorCode = try reader.readErrorCode()
            let highWatermark: Int64 = try reader.readInteger("high_watermark")
            let lastStableOffset: Int64 = try reader.readInteger("last_stable_offset")
            let logStartOffset: Int64 = version >= 5 ? try reader.readInteger("log_start_offset") : -1
            let aborted = try reader.readNullableArray("aborted_transactions", of: AbortedTransaction.self, version: version)
            let preferredReadReplica: Int32 = version >= 11 ? try reader.readInteger("preferred_read_replica") : -1
            let records = try reader.readNullableBytes("records")
            try reader.skipTaggedFields()
            return Self(
                partitionIndex: partitionIndex, errorCode: errorCode, highWatermark: highWatermark, lastStableOffset: lastStableOffset,
                logStartOffset: logStartOffset, abortedTransactions: aborted, preferredReadReplica: preferredReadReplica, records: records
            )
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(partitionIndex)
            writer.writeErrorCode(errorCode)
            writer.writeInteger(highWatermark)
            writer.writeInteger(lastStableOffset)
            if version >= 5 { writer.writeInteger(logStartOffset) }
            writer.writeNullableArray(abortedTransactions, version: version)
            if version >= 11 { writer.writeInteger(preferredReadReplica) }
            writer.writeNullableBytes(records)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partitions` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    public var throttleTimeMs: Int32
    /// v7+: a fetch-session error (partition errors go in each partition).
    public var errorCode: KafkaErrorCode
    /// v7+: 0 outside a fetch session.
    public var sessionID: Int32
    public var responses: [Topic]

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .none, sessionID: Int32 = 0, responses: [Topic]) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.sessionID = sessionID
        self.responses = responses
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = try reader.readInteger("throttle_time_ms")
        let errorCode = version >= 7 ? try reader.readErrorCode() : .none
        let sessionID: Int32 = version >= 7 ? try reader.readInteger("session_id") : 0
        let responses = try reader.readArray("responses", of: Topic.self, version: version)
        return Self(throttleTimeMs: throttleTimeMs, errorCode: errorCode, sessionID: sessionID, responses: responses)
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeInteger(throttleTimeMs)
        if version >= 7 {
            writer.writeErrorCode(errorCode)
            writer.writeInteger(sessionID)
        }
        writer.writeArray(responses, version: version)
    }
}
