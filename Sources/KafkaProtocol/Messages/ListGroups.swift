import NIOCore

/// ListGroups (16) request: the groups this broker coordinates, optionally only those in some
/// states (v4+).
public struct ListGroupsRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.listGroups
    public static let messageName: StaticString = "ListGroupsRequest"

    /// v4+; empty lists every state.
    public var statesFilter: [String]

    public init(statesFilter: [String] = []) {
        self.statesFilter = statesFilter
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        Self(statesFilter: version >= 4 ? try reader.readStringArray("states_filter") : [])
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 4 { writer.writeStringArray(statesFilter) }
    }
}

/// ListGroups (16) response.
public struct ListGroupsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.listGroups
    public static let messageName: StaticString = "ListGroupsResponse"

    public struct Group: KafkaStructure {
        public var groupID: String
        public var protocolType: String
        /// v4+.
        public var groupState: String

        public init(groupID: String, protocolType: String, groupState: String = "") {
            self.groupID = groupID
            self.protocolType = protocolType
            self.groupState = groupState
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            var group = try Self(groupID: reader.readString("group_id"), protocolType: reader.readString("protocol_type"))
            if version >= 4 { group.groupState = try reader.readString("group_state") }
            try reader.skipTaggedFields()
            return group
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeString(groupID)
            writer.writeString(protocolType)
            if version >= 4 { writer.writeString(groupState) }
            writer.writeEmptyTaggedFields()
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    public var errorCode: KafkaErrorCode
    public var groups: [Group]

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .none, groups: [Group]) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.groups = groups
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let throttleTimeMs: Int32 = version >= 1 ? try reader.readInteger("throttle_time_ms") : 0
        let errorCode = try reader.readErrorCode()
        return Self(throttleTimeMs: throttleTimeMs, errorCode: errorCode, groups: try reader.readArray("groups", of: Group.self, version: version))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        if version >= 1 { writer.writeInteger(throttleTimeMs) }
        writer.writeErrorCode(errorCode)
        writer.writeArray(groups, version: version)
    }
}
