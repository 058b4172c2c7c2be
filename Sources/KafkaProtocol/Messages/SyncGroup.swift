import NIOCore

/// SyncGroup (14) request: after a join, every member asks for its assignment; the leader
/// brings the assignments of all.
public struct SyncGroupRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.syncGroup
    public static let messageName: StaticString = "SyncGroupRequest"

    public struct Assignment: KafkaStructure {
        public var memberID: String
        /// Opaque to the broker: relayed to the member.
        public var assignment: ByteBuffer

        public init(memberID: String, assignment: ByteBuffer) {
            self.memberID = memberID
            self.assignment = assignment
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let assignment = try Self(memberID: reader.readString("member_id"), assignment: reader.readBytes("assignment"))
            try reader.skipTaggedFields()
            return assignment
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(memberID)
            writer.writeBytes(assignment)
            writer.writeEmptyTaggedFields()
        }
    }

    public var groupID: String
    public var generationID: Int32
    public var memberID: String
    /// v3+.
    public var groupInstanceID: String?
    /// v5+.
    public var protocolType: String?
    /// v5+.
    public var protocolName: String?
    /// Empty from every member but the leader.
    public var assignments: [Assignment]

    public init(
        groupID: String, generationID: Int32, memberID: String, groupInstanceID: String? = nil, protocolType: String? = nil,
        protocolName: String? = nil, assignments: [Assignment]
    ) {
        self.groupID = groupID
        self.generationID = generationID
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignments = assignments
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let groupID = try reader.readString("group_id")
        let generationID: Int32 = try reader.readInteger("generation_id")
        let memberID = try reader.readString("member_id")
        let groupInstanceID = version >= 3 ? try reader.readNullableString("group_instance_id") : nil
        let protocolType = version >= 5 ? try reader.readNullableString("protocol_type") : nil
        let protocolName = version >= 5 ? try reader.readNullableString("protocol_name") : nil
        let assignments = try reader.readArray("assignments", of: Assignment.self, version: version)
        return Self(
            groupID: groupID, generationID: generationID, memberID: memberID, groupInstanceID: groupInstanceID,
            protocolType: protocolType, protocolName: protocolName, assignments: assignments
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(groupID)
        writer.writeInteger(generationID)
        writer.writeString(memberID)
        if version >= 3 { writer.writeNullableString(groupInstanceID) }
        if version >= 5 {
            writer.writeNullableString(protocolType)
            writer.writeNullableString(protocolName)
        }
        writer.writeArray(assignments, version: version)
    }
}

/// SyncGroup (14) response: this member's assignment.
public struct SyncGroupResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.syncGroup
    public static let messageName: StaticString = "SyncGroupResponse"

    /// v1+.
    public var throttleTimeMs: Int32
    public var errorCode: KafkaErrorCode
    /// v5+.
    public var protocolType: String?
    /// v5+.
    public var protocolName: String?
    public var assignment: ByteBuffer

    public init(
        throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .none, protocolType: String? = nil, protocolName: String? = nil,
        assignment: ByteBuffer
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignment = assignment
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 1 ? try reader.readInteger("throttle_time_ms") : 0
        let errorCode = try reader.readErrorCode()
        let protocolType = version >= 5 ? try reader.readNullableString("protocol_type") : nil
        let protocolName = version >= 5 ? try reader.readNullableString("protocol_name") : nil
        let assignment = try reader.readBytes("assignment")
        return Self(throttleTimeMs: throttleTimeMs, errorCode: errorCode, protocolType: protocolType, protocolName: protocolName, assignment: assignment)
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 1 { writer.writeInteger(throttleTimeMs) }
        writer.writeErrorCode(errorCode)
        if version >= 5 {
            writer.writeNullableString(protocolType)
            writer.writeNullableString(protocolName)
        }
        writer.writeBytes(assignment)
    }
}
