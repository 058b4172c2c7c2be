import NIOCore
import Testing

@testable import KafkaProtocol

/// JoinGroup, SyncGroup, Heartbeat and LeaveGroup.
@Suite struct GroupMembershipTests {
    @Test(arguments: versions(.joinGroup))
    func joinGroupRoundTrip(version: Int16) throws {
        let request = JoinGroupRequest(
            groupID: "g1", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: version >= 1 ? 300_000 : -1, memberID: "",
            groupInstanceID: version >= 5 ? "instance-1" : nil, protocolType: "consumer",
            protocols: [.init(name: "range", metadata: buffer([0, 1, 2])), .init(name: "roundrobin", metadata: ByteBuffer())]
        )
        try expectRequestRoundTrip(request, version: version)
        let response = JoinGroupResponse(
            throttleTimeMs: version >= 2 ? 1 : 0, generationID: 3, protocolType: version >= 7 ? "consumer" : nil, protocolName: "range",
            leader: "m1", memberID: "m1",
            members: [.init(memberID: "m1", groupInstanceID: version >= 5 ? "instance-1" : nil, metadata: buffer([9])), .init(memberID: "m2", metadata: buffer([8]))]
        )
        try expectResponseRoundTrip(response, version: version)
        // An error before a protocol was chosen: null from v7, empty before.
        let failure = JoinGroupResponse(errorCode: .memberIDRequired, protocolName: version >= 7 ? nil : "", leader: "", memberID: "m-new")
        try expectResponseRoundTrip(failure, version: version)
    }

    @Test(arguments: versions(.syncGroup))
    func syncGroupRoundTrip(version: Int16) throws {
        let request = SyncGroupRequest(
            groupID: "g1", generationID: 3, memberID: "m1", groupInstanceID: version >= 3 ? "instance-1" : nil,
            protocolType: version >= 5 ? "consumer" : nil, protocolName: version >= 5 ? "range" : nil,
            assignments: [.init(memberID: "m1", assignment: buffer([1])), .init(memberID: "m2", assignment: buffer([2]))]
        )
        try expectRequestRoundTrip(request, version: version)
        let response = SyncGroupResponse(
            throttleTimeMs: version >= 1 ? 1 : 0, protocolType: version >= 5 ? "consumer" : nil, protocolName: version >= 5 ? "range" : nil,
            assignment: buffer([0, 3, 0, 0])
        )
        try expectResponseRoundTrip(response, version: version)
    }

    @Test(arguments: versions(.heartbeat))
    func heartbeatRoundTrip(version: Int16) throws {
        try expectRequestRoundTrip(
            HeartbeatRequest(groupID: "g1", generationID: 3, memberID: "m1", groupInstanceID: version >= 3 ? "instance-1" : nil), version: version
        )
        try expectResponseRoundTrip(HeartbeatResponse(throttleTimeMs: version >= 1 ? 1 : 0, errorCode: .rebalanceInProgress), version: version)
    }

    @Test(arguments: versions(.leaveGroup))
    func leaveGroupRoundTrip(version: Int16) throws {
        let request = version >= 3
            ? LeaveGroupRequest(groupID: "g1", members: [.init(memberID: "m1"), .init(memberID: "m2", groupInstanceID: "instance-2")])
            : LeaveGroupRequest(groupID: "g1", memberID: "m1")
        try expectRequestRoundTrip(request, version: version)
        #expect(request.leavingMembers.map(\.memberID) == (version >= 3 ? ["m1", "m2"] : ["m1"]))
        let response = LeaveGroupResponse(
            throttleTimeMs: version >= 1 ? 1 : 0,
            members: version >= 3 ? [.init(memberID: "m1"), .init(memberID: "m2", groupInstanceID: "instance-2", errorCode: .unknownMemberID)] : []
        )
        try expectResponseRoundTrip(response, version: version)
    }
}
