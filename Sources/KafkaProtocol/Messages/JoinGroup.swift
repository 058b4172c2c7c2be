import NIOCore

/// JoinGroup (11) request: a member joins a classic consumer group, offering the assignment
/// protocols it supports (with its subscription as each protocol's metadata).
public struct JoinGroupRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.joinGroup
    public static let messageName: StaticString = "JoinGroupRequest"

    public struct GroupProtocol: KafkaStructure {
        public var name: String
        /// Opaque to the broker: relayed to the leader.
        public var metadata: ByteBuffer

        public init(name: String, metadata: ByteBuffer) {
            self.name = name
            self.metadata = metadata
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let groupProtocol = try Self(name: reader.readString("name"), metadata: reader.readBytes("metadata"))
            try reader.skipTaggedFields()
            return groupProtocol
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(name)
            writer.writeBytes(metadata)
            writer.writeEmptyTaggedFields()
        }
    }

    public var groupID: String
    public var sessionTimeoutMs: Int32
    /// v1+; in v0 the session timeout served as both.
    public var rebalanceTimeoutMs: Int32
    /// Empty on a member's first join.
    public var memberID: String
    /// v5+: static membership.
    public var groupInstanceID: String?
    public var protocolType: String
    public var protocols: [GroupProtocol]

    public init(
        groupID: String, sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32 = -1, memberID: String, groupInstanceID: String? = nil,
        protocolType: String, protocols: [GroupProtocol]
    ) {
        self.groupID = groupID
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.protocolType = protocolType
        self.protocols = protocols
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let groupID = try reader.readString("group_id")
        let sessionTimeoutMs: Int32 = try reader.readInteger("session_timeout_ms")
        let rebalanceTimeoutMs: Int32 = version >= 1 ? try reader.readInteger("rebalance_timeout_ms") : -1
        let memberID = try reader.readString("member_id")
        let groupInstanceID = version >= 5 ? try reader.readNullableString("group_instance_id") : nil
        let protocolType = try reader.readString("protocol_type")
        let protocols = try reader.readArray("protocols", of: GroupProtocol.self, version: version)
        return Self(
            groupID: groupID, sessionTimeoutMs: sessionTimeoutMs, rebalanceTimeoutMs: rebalanceTimeoutMs, memberID: memberID,
            groupInstanceID: groupInstanceID, protocolType: protocolType, protocols: protocols
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(groupID)
        writer.writeInteger(sessionTimeoutMs)
        if version >= 1 { writer.writeInteger(rebalanceTimeoutMs) }
        writer.writeString(memberID)
        if version >= 5 { writer.writeNullableString(groupInstanceID) }
        writer.writeString(protocolType)
        writer.writeArray(protocols, version: version)
    }
}

/// JoinGroup (11) response: the generation, the chosen protocol and the leader; the leader
/// alone gets the members' metadata, to compute the assignment.
public struct JoinGroupResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.joinGroup
    public static let messageName: StaticString = "JoinGroupResponse"

    public struct Member: KafkaStructure {
        public var memberID: String
        /// v5+.
        public var groupInstanceID: String?
        public var metadata: ByteBuffer

        public init(memberID: String, groupInstanceID: String? = nil, metadata: ByteBuffer) {
            self.memberID = memberID
            self.groupInstanceID = groupInstanceID
            self.metadata = metadata
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let memberID = try reader.readString("member_id")
            let groupInstanceID = version >= 5 ? try reader.readNullableString("group_instance_id") : nil
            let metadata = try reader.readBytes("metadata")
            try reader.skipTaggedFields()
            return Self(memberID: memberID, groupInstanceID: groupInstanceID, metadata: metadata)
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(memberID)
            if version >= 5 { writer.writeNullableString(groupInstanceID) }
            writer.writeBytes(metadata)
            writer.writeEmptyTaggedFields()
        }
    }

    /// v2+.
    public var throttleTimeMs: Int32
    public var errorCode: KafkaErrorCode
    public var generationID: Int32
    /// v7+.
    public var protocolType: String?
    /// Nullable from v7; written as "" before (an error response has none).
    public var protocolName: String?
    public var leader: String
    public var memberID: String
    public var members: [Member]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .none, generationID: Int32 = -1, protocolType: String? = nil,
        protocolName: String?, leader: String, memberID: String, members: [Member] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.generationID = generationID
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.leader = leader
        self.memberID = memberID
        self.members = members
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 2 ? try reader.readInteger("throttle_time_ms") : 0
        let errorCode = try reader.readErrorCode()
        let generationID: Int32 = try reader.readInteger("generation_id")
        let protocolType = version >= 7 ? try reader.readNullableString("protocol_type") : nil
        let protocolName = version >= 7 ? try reader.readNullableString("protocol_name") : try reader.readString("protocol_name")
        let leader = try reader.readString("leader")
        let memberID = try reader.readString("member_id")
        let members = try reader.readArray("members", of: Member.self, version: version)
        return Self(
            throttleTimeMs: throttleTimeMs, errorCode: errorCode, generationID: generationID, protocolType: protocolType,
            protocolName: protocolName, leader: leader, memberID: memberID, members: members
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 2 { writer.writeInteger(throttleTimeMs) }
        writer.writeErrorCode(errorCode)
        writer.writeInteger(generationID)
        if version >= 7 { writer.writeNullableString(protocolType) }
        if version >= 7 { writer.writeNullableString(protocolName) } else { writer.writeString(protocolName ?? "") }
        writer.writeString(leader)
        writer.writeString(memberID)
        writer.writeArray(members, version: version)
    }
}
