import NIOCore

/// Produce (0) request. The endpoint never accepts writes (the pipeline is the log's only
/// writer): it decodes a Produce request only to answer each partition with an error, and
/// keeps the record sets as unread slices.
public struct ProduceRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.produce
    public static let messageName: StaticString = "ProduceRequest"

    public struct Partition: KafkaStructure {
        public var index: Int32
        /// Not parsed: the request is refused.
        public var records: ByteBuffer?

        public init(index: Int32, records: ByteBuffer?) {
            self.index = index
            self.records = records
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let partition = try Self(index: reader.readInteger("index"), records: reader.readNullableBytes("records"))
            try reader.skipTaggedFields()
            return partition
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(index)
            writer.writeNullableBytes(records)
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partition_data` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    /// v3+.
    public var transactionalID: String?
    /// 0: no response is expected at all (the connection gets none for this request).
    public var acks: Int16
    public var timeoutMs: Int32
    public var topics: [Topic]

    public init(transactionalID: String? = nil, acks: Int16, timeoutMs: Int32, topics: [Topic]) {
        self.transactionalID = transactionalID
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topics = topics
    }

    // Every supported version (v3+) has the transactional id.
    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        try Self(
            transactionalID: reader.readNullableString("transactional_id"), acks: reader.readInteger("acks"),
            timeoutMs: reader.readInteger("timeout_ms"), topics: reader.readArray("topic_data", of: Topic.self, version: version)
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeNullableString(transactionalID)
        writer.writeInteger(acks)
        writer.writeInteger(timeoutMs)
        writer.writeArray(topics, version: version)
    }
}

/// Produce (0) response.
public struct ProduceResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.produce
    public static let messageName: StaticString = "ProduceResponse"

    public struct Partition: KafkaStructure {
        public var index: Int32
        public var errorCode: KafkaErrorCode
        public var baseOffset: Int64
        public var logAppendTimeMs: Int64
        /// v5+.
        public var logStartOffset: Int64
        /// v8+.
        public var errorMessage: String?

        public init(
            index: Int32, errorCode: KafkaErrorCode, baseOffset: Int64 = -1, logAppendTimeMs: Int64 = -1, logStartOffset: Int64 = -1,
            errorMessage: String? = nil
        ) {
            self.index = index
            self.errorCode = errorCode
            self.baseOffset = baseOffset
            self.logAppendTimeMs = logAppendTimeMs
            self.logStartOffset = logStartOffset
            self.errorMessage = errorMessage
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            var partition = try Self(
                index: reader.readInteger("index"), errorCode: reader.readErrorCode(), baseOffset: reader.readInteger("base_offset"),
                logAppendTimeMs: reader.readInteger("log_append_time_ms")
            )
            if version >= 5 { partition.logStartOffset = try reader.readInteger("log_start_offset") }
            if version >= 8 {
                // Per-record errors: the endpoint refuses whole partitions and never sends any;
                // a response that has some is still read, and they are dropped.
                _ = try reader.readArray("record_errors") { (reader: inout KafkaReader) throws(KafkaProtocolError) in
                    _ = try reader.readInteger("batch_index", as: Int32.self)
                    _ = try reader.readNullableString("batch_index_error_message")
                    try reader.skipTaggedFields()
                }
                partition.errorMessage = try reader.readNullableString("error_message")
            }
            try reader.skipTaggedFields()
            return partition
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(index)
            writer.writeErrorCode(errorCode)
            writer.writeInteger(baseOffset)
            writer.writeInteger(logAppendTimeMs)
            if version >= 5 { writer.writeInteger(logStartOffset) }
            if version >= 8 {
                writer.writeArray([] as [Int32]) { _, _ in }
                writer.writeNullableString(errorMessage)
            }
            writer.writeEmptyTaggedFields()
        }
    }

    /// A topic and its partitions (`partition_responses` in the schema).
    public typealias Topic = KafkaTopic<Partition>

    public var responses: [Topic]
    /// After the responses, unlike every other response.
    public var throttleTimeMs: Int32

    public init(responses: [Topic], throttleTimeMs: Int32 = 0) {
        self.responses = responses
        self.throttleTimeMs = throttleTimeMs
    }

    /// The refusal of `request`: `errorCode` for every partition it names.
    public init(refusing request: ProduceRequest, errorCode: KafkaErrorCode, errorMessage: String? = nil) {
        self.init(responses: request.topics.map { topic in
            Topic(name: topic.name, partitions: topic.partitions.map { Partition(index: $0.index, errorCode: errorCode, errorMessage: errorMessage) })
        })
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        try Self(responses: reader.readArray("responses", of: Topic.self, version: version), throttleTimeMs: reader.readInteger("throttle_time_ms"))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeArray(responses, version: version)
        writer.writeInteger(throttleTimeMs)
    }
}
