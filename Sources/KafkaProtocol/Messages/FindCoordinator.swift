import NIOCore

/// FindCoordinator (10) request: which broker coordinates a group (key type 0) or a
/// transactional id (1). v4 asks for several keys at once.
public struct FindCoordinatorRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.findCoordinator
    public static let messageName: StaticString = "FindCoordinatorRequest"

    public static let groupKeyType: Int8 = 0
    public static let transactionKeyType: Int8 = 1

    /// v0–v3.
    public var key: String
    /// v1+.
    public var keyType: Int8
    /// v4+.
    public var coordinatorKeys: [String]

    public init(key: String = "", keyType: Int8 = FindCoordinatorRequest.groupKeyType, coordinatorKeys: [String] = []) {
        self.key = key
        self.keyType = keyType
        self.coordinatorKeys = coordinatorKeys
    }

    /// The keys asked for, whichever way the version carries them.
    public var keys: [String] { coordinatorKeys.isEmpty ? [key] : coordinatorKeys }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        var request = Self()
        if version <= 3 { request.key = try reader.readString("key") }
        if version >= 1 { request.keyType = try reader.readInteger("key_type") }
        if version >= 4 { request.coordinatorKeys = try reader.readStringArray("coordinator_keys") }
        return request
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version <= 3 { writer.writeString(key) }
        if version >= 1 { writer.writeInteger(keyType) }
        if version >= 4 { writer.writeStringArray(coordinatorKeys) }
    }
}

/// FindCoordinator (10) response. v0–v3 answer one key in top-level fields; v4 answers each
/// key in `coordinators`.
public struct FindCoordinatorResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.findCoordinator
    public static let messageName: StaticString = "FindCoordinatorResponse"

    public struct Coordinator: KafkaStructure {
        public var key: String
        public var nodeID: Int32
        public var host: String
        public var port: Int32
        public var errorCode: KafkaErrorCode
        public var errorMessage: String?

        public init(key: String, nodeID: Int32, host: String, port: Int32, errorCode: KafkaErrorCode = .none, errorMessage: String? = nil) {
            self.key = key
            self.nodeID = nodeID
            self.host = host
            self.port = port
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let coordinator = try Self(
                key: reader.readString("key"), nodeID: reader.readInteger("node_id"), host: reader.readString("host"),
                port: reader.readInteger("port"), errorCode: reader.readErrorCode(), errorMessage: reader.readNullableString("error_message")
            )
            try reader.skipTaggedFields()
            return coordinator
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(key)
            writer.writeInteger(nodeID)
            writer.writeString(host)
            writer.writeInteger(port)
            writer.writeErrorCode(errorCode)
            writer.writeNullableString(errorMessage)
            writer.writeEmptyTaggedFields()
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    /// v0–v3.
    public var errorCode: KafkaErrorCode
    /// v1–v3.
    public var errorMessage: String?
    /// v0–v3.
    public var nodeID: Int32
    /// v0–v3.
    public var host: String
    /// v0–v3.
    public var port: Int32
    /// v4+.
    public var coordinators: [Coordinator]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .none, errorMessage: String? = nil, nodeID: Int32 = -1,
        host: String = "", port: Int32 = -1, coordinators: [Coordinator] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.nodeID = nodeID
        self.host = host
        self.port = port
        self.coordinators = coordinators
    }

    /// The answer for `keys` at `version`, all coordinated by one node: the form each version
    /// takes (top-level fields up to v3, one entry per key from v4).
    public init(coordinator: MetadataResponse.Broker, keys: [String], version: Int16) {
        if version >= 4 {
            self.init(coordinators: keys.map { Coordinator(key: $0, nodeID: coordinator.nodeID, host: coordinator.host, port: coordinator.port) })
        } else {
            self.init(nodeID: coordinator.nodeID, host: coordinator.host, port: coordinator.port)
        }
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        var response = Self()
        if version >= 1 { response.throttleTimeMs = try reader.readInteger("throttle_time_ms") }
        if version <= 3 {
            response.errorCode = try reader.readErrorCode()
            if version >= 1 { response.errorMessage = try reader.readNullableString("error_message") }
            response.nodeID = try reader.readInteger("node_id")
            response.host = try reader.readString("host")
            response.port = try reader.readInteger("port")
        } else {
            response.coordinators = try reader.readArray("coordinators", of: Coordinator.self, version: version)
        }
        return response
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 1 { writer.writeInteger(throttleTimeMs) }
        if version <= 3 {
            writer.writeErrorCode(errorCode)
            if version >= 1 { writer.writeNullableString(errorMessage) }
            writer.writeInteger(nodeID)
            writer.writeString(host)
            writer.writeInteger(port)
        } else {
            writer.writeArray(coordinators, version: version)
        }
    }
}
