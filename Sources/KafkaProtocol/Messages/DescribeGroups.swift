import NIOCore

/// DescribeGroups (15) request: state, protocol and members of some groups.
public struct DescribeGroupsRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.describeGroups
    public static let messageName: StaticString = "DescribeGroupsRequest"

    public var groups: [String]
    /// v3+.
    public var includeAuthorizedOperations: Bool

    public init(groups: [String], includeAuthorizedOperations: Bool = false) {
        self.groups = groups
        self.includeAuthorizedOperations = includeAuthorizedOperations
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let groups = try reader.readStringArray("groups")
        return Self(groups: groups, includeAuthorizedOperations: version >= 3 ? try reader.readBool("include_authorized_operations") : false)
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeStringArray(groups)
        if version >= 3 { writer.writeBool(includeAuthorizedOperations) }
    }
}

/// DescribeGroups (15) response.
public struct DescribeGroupsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeGroups
    public static let messageName: StaticString = "DescribeGroupsResponse"

    public struct Member: KafkaStructure {
        public var memberID: String
        /// v4+.
        public var groupInstanceID: String?
        public var clientID: String
        public var clientHost: String
        public var memberMetadata: ByteBuffer
        public var memberAssignment: ByteBuffer

        public init(
            memberID: String, groupInstanceID: String? = nil, clientID: String, clientHost: String, memberMetadata: ByteBuffer,
            memberAssignment: ByteBuffer
        ) {
            self.memberID = memberID
            self.groupInstanceID = groupInstanceID
            self.clientID = clientID
            self.clientHost = clientHost
            self.memberMetadata = memberMetadata
            self.memberAssignment = memberAssignment
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let memberID = try reader.readString("member_id")
            let groupInstanceID = version >= 4 ? try reader.readNullableString("group_instance_id") : nil
            let member = try Self(
                memberID: memberID, groupInstanceID: groupInstanceID, clientID: reader.readString("client_id"),
                clientHost: reader.readString("client_host"), memberMetadata: reader.readBytes("member_metadata"),
                memberAssignment: reader.readBytes("member_assignment")
            )
            try reader.skipTaggedFields()
            return member
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(memberID)
            if version >= 4 { writer.writeNullableString(groupInstanceID) }
            writer.writeString(clientID)
            writer.writeString(clientHost)
            writer.writeBytes(memberMetadata)
            writer.writeBytes(memberAssignment)
            writer.writeEmptyTaggedFields()
        }
    }

    public struct Group: KafkaStructure {
        public var errorCode: KafkaErrorCode
        public var groupID: String
        /// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead".
        public var groupState: String
        public var protocolType: String
        /// The chosen assignor ("range", "roundrobin", ...), when stable.
        public var protocolData: String
        public var members: [Member]
        /// v3+.
        public var authorizedOperations: Int32

        public init(
            errorCode: KafkaErrorCode = .none, groupID: String, groupState: String, protocolType: String, protocolData: String,
            members: [Member], authorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted
        ) {
            self.errorCode = errorCode
            self.groupID = groupID
            self.groupState = groupState
            self.protocolType = protocolType
            self.protocolData = protocolData
            self.members = members
            self.authorizedOperations = authorizedOperations
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            var group = try Self(
                errorCode: reader.readErrorCode(), groupID: reader.readString("group_id"), groupState: reader.readString("group_state"),
                protocolType: reader.readString("protocol_type"), protocolData: reader.readString("protocol_data"),
                members: reader.readArray("members", of: Member.self, version: version)
            )
            if version >= 3 { group.authorizedOperations = try reader.readInteger("authorized_operations") }
            try reader.skipTaggedFields()
            return group
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeErrorCode(errorCode)
            writer.writeString(groupID)
            writer.writeString(groupState)
            writer.writeString(protocolType)
            writer.writeString(protocolData)
            writer.writeArray(members, version: version)
            if version >= 3 { writer.writeInteger(authorizedOperations) }
            writer.writeEmptyTaggedFields()
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    public var groups: [Group]

    public init(throttleTimeMs: Int32 = 0, groups: [Group]) {
        self.throttleTimeMs = throttleTimeMs
        self.groups = groups
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 1 ? try reader.readInteger("throttle_time_ms") : 0
        return Self(throttleTimeMs: throttleTimeMs, groups: try reader.readArray("groups", of: Group.self, version: version))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 1 { writer.writeInteger(throttleTimeMs) }
        writer.writeArray(groups, version: version)
    }
}
