import NIOCore

/// Heartbeat (12) request: a member is alive; the answer tells it when to rejoin.
public struct HeartbeatRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.heartbeat
    public static let messageName: StaticString = "HeartbeatRequest"

    public var groupID: String
    public var generationID: Int32
    public var memberID: String
    /// v3+.
    public var groupInstanceID: String?

    public init(groupID: String, generationID: Int32, memberID: String, groupInstanceID: String? = nil) {
        self.groupID = groupID
        self.generationID = generationID
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        var request = try Self(groupID: reader.readString("group_id"), generationID: reader.readInteger("generation_id"), memberID: reader.readString("member_id"))
        if version >= 3 { request.groupInstanceID = try reader.readNullableString("group_instance_id") }
        return request
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(groupID)
        writer.writeInteger(generationID)
        writer.writeString(memberID)
        if version >= 3 { writer.writeNullableString(groupInstanceID) }
    }
}

/// Heartbeat (12) response: REBALANCE_IN_PROGRESS tells the member to rejoin.
public struct HeartbeatResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.heartbeat
    public static let messageName: StaticString = "HeartbeatResponse"

    /// v1+.
    public var throttleTimeMs: Int32
    public var errorCode: KafkaErrorCode

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .none) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 1 ? try reader.readInteger("throttle_time_ms") : 0
        return Self(throttleTimeMs: throttleTimeMs, errorCode: try reader.readErrorCode())
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 1 { writer.writeInteger(throttleTimeMs) }
        writer.writeErrorCode(errorCode)
    }
}
