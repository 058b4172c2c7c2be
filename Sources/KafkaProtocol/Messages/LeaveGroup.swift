import NIOCore

/// LeaveGroup (13) request: one member leaves (v0–v2), or several at once (v3+, which static
/// members and admin tools use).
public struct LeaveGroupRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.leaveGroup
    public static let messageName: StaticString = "LeaveGroupRequest"

    public struct Member: KafkaStructure {
        public var memberID: String
        public var groupInstanceID: String?

        public init(memberID: String, groupInstanceID: String? = nil) {
            self.memberID = memberID
            self.groupInstanceID = groupInstanceID
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let member = try Self(memberID: reader.readString("member_id"), groupInstanceID: reader.readNullableString("group_instance_id"))
            try reader.skipTaggedFields()
            return member
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(memberID)
            writer.writeNullableString(groupInstanceID)
            writer.writeEmptyTaggedFields()
        }
    }

    public var groupID: String
    /// v0–v2.
    public var memberID: String
    /// v3+.
    public var members: [Member]

    public init(groupID: String, memberID: String = "", members: [Member] = []) {
        self.groupID = groupID
        self.memberID = memberID
        self.members = members
    }

    /// The members leaving, whichever way the version carries them.
    public var leavingMembers: [Member] { members.isEmpty ? [Member(memberID: memberID)] : members }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        var request = Self(groupID: try reader.readString("group_id"))
        if version <= 2 { request.memberID = try reader.readString("member_id") }
        if version >= 3 { request.members = try reader.readArray("members", of: Member.self, version: version) }
        return request
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(groupID)
        if version <= 2 { writer.writeString(memberID) }
        if version >= 3 { writer.writeArray(members, version: version) }
    }
}

/// LeaveGroup (13) response.
public struct LeaveGroupResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.leaveGroup
    public static let messageName: StaticString = "LeaveGroupResponse"

    public struct Member: KafkaStructure {
        public var memberID: String
        public var groupInstanceID: String?
        public var errorCode: KafkaErrorCode

        public init(memberID: String, groupInstanceID: String? = nil, errorCode: KafkaErrorCode = .none) {
            self.memberID = memberID
            self.groupInstanceID = groupInstanceID
            self.errorCode = errorCode
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let member = try Self(
                memberID: reader.readString("member_id"), groupInstanceID: reader.readNullableString("group_instance_id"),
                errorCode: reader.readErrorCode()
            )
            try reader.skipTaggedFields()
            return member
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(memberID)
            writer.writeNullableString(groupInstanceID)
            writer.writeErrorCode(errorCode)
            writer.writeEmptyTaggedFields()
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    public var errorCode: KafkaErrorCode
    /// v3+.
    public var members: [Member]

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .none, members: [Member] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.members = members
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        var response = Self()
        if version >= 1 { response.throttleTimeMs = try reader.readInteger("throttle_time_ms") }
        response.errorCode = try reader.readErrorCode()
        if version >= 3 { response.members = try reader.readArray("members", of: Member.self, version: version) }
        return response
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 1 { writer.writeInteger(throttleTimeMs) }
        writer.writeErrorCode(errorCode)
        if version >= 3 { writer.writeArray(members, version: version) }
    }
}
