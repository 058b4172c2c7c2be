import KafkaProtocol
import NIOCore
import SegmentLog
import Testing
@testable import KafkaEndpoint

/// Group membership over real sockets: JoinGroup and SyncGroup answers that wait for the
/// other members, heartbeats that announce a rebalance, commits checked against the
/// generation, and what DescribeGroups and ListGroups show.
@Suite struct GroupMembershipTests {
    static let protocols = [JoinGroupRequest.GroupProtocol(name: "range", metadata: ByteBuffer(string: "sub"))]

    func join(_ client: TestKafkaClient, memberID: String, version: Int16 = 7) throws -> Int32 {
        try client.send(
            .joinGroup(JoinGroupRequest(groupID: "billing", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberID: memberID, protocolType: "consumer", protocols: Self.protocols)),
            version: version)
    }

    /// v4+: MEMBER_ID_REQUIRED with an id, then the join that waits; returns the id and the
    /// correlation id of the waiting join.
    func newMember(_ client: TestKafkaClient) throws -> (memberID: String, correlationID: Int32) {
        let first = try client.readResponse(JoinGroupResponse.self, version: 7, correlationID: try join(client, memberID: ""))
        #expect(first.errorCode == .memberIDRequired)
        return (first.memberID, try join(client, memberID: first.memberID))
    }

    func sync(_ client: TestKafkaClient, _ memberID: String, generation: Int32, assignments: [String: String] = [:]) throws -> Int32 {
        try client.send(
            .syncGroup(SyncGroupRequest(
                groupID: "billing", generationID: generation, memberID: memberID, protocolType: "consumer", protocolName: "range",
                assignments: assignments.sorted { $0.key < $1.key }.map { .init(memberID: $0.key, assignment: ByteBuffer(string: $0.value)) })),
            version: 5)
    }

    func heartbeat(_ client: TestKafkaClient, _ memberID: String, generation: Int32) throws -> KafkaErrorCode {
        try client.roundTrip(.heartbeat(HeartbeatRequest(groupID: "billing", generationID: generation, memberID: memberID)), version: 4, as: HeartbeatResponse.self).errorCode
    }

    /// Heartbeats every 50 ms until the answer is REBALANCE_IN_PROGRESS (failing on any other
    /// error, or after 20 s).
    func heartbeatUntilRebalance(_ client: TestKafkaClient, _ memberID: String, generation: Int32) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let answer = try heartbeat(client, memberID, generation: generation)
            if answer == .rebalanceInProgress { return }
            guard answer == .none else { throw TestFailure("heartbeat answered \(answer)") }
            guard ContinuousClock.now < deadline else { throw TestFailure("no rebalance within 20 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func commit(_ client: TestKafkaClient, _ memberID: String, generation: Int32) throws -> KafkaErrorCode? {
        let request = OffsetCommitRequest(
            groupID: "billing", generationID: generation, memberID: memberID, topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, committedOffset: 2)])])
        return try client.roundTrip(.offsetCommit(request), version: 8, as: OffsetCommitResponse.self).topics.first?.partitions.first?.errorCode
    }

    @Test func twoMembersFormAGroupAndTheAnswersWaitForTheRebalance() async throws {
        try await KafkaServerTests.withServer(groups: .init(initialRebalanceDelayMs: 0)) { fixture in
            let one = try TestKafkaClient(port: fixture.server.port)
            let two = try TestKafkaClient(port: fixture.server.port)

            // Alone: generation 1 once the (zero) initial delay has passed, on the timer.
            let (a, joinA) = try newMember(one)
            let first = try one.readResponse(JoinGroupResponse.self, version: 7, correlationID: joinA)
            #expect(first.errorCode == .none && first.generationID == 1 && first.leader == a && first.members.map(\.memberID) == [a])
            let synced = try one.readResponse(SyncGroupResponse.self, version: 5, correlationID: try sync(one, a, generation: 1, assignments: [a: "all"]))
            #expect(String(buffer: synced.assignment) == "all")
            #expect(try commit(one, a, generation: 1) == KafkaErrorCode.none)

            // A second member: its join waits until the first, told by its heartbeat, rejoins.
            let (b, joinB) = try newMember(two)
            try await heartbeatUntilRebalance(one, a, generation: 1)
            let rejoined = try one.readResponse(JoinGroupResponse.self, version: 7, correlationID: try join(one, memberID: a))
            let joined = try two.readResponse(JoinGroupResponse.self, version: 7, correlationID: joinB)
            #expect(rejoined.generationID == 2 && rejoined.leader == a && rejoined.members.map(\.memberID) == [a, b])
            #expect(joined.generationID == 2 && joined.leader == a && joined.members.isEmpty)

            // The follower's SyncGroup waits for the leader's assignment.
            let syncB = try sync(two, b, generation: 2)
            let syncA = try sync(one, a, generation: 2, assignments: [a: "p0", b: "p1 p2"])
            #expect(String(buffer: try one.readResponse(SyncGroupResponse.self, version: 5, correlationID: syncA).assignment) == "p0")
            #expect(String(buffer: try two.readResponse(SyncGroupResponse.self, version: 5, correlationID: syncB).assignment) == "p1 p2")

            #expect(try commit(one, a, generation: 1) == .illegalGeneration)
            #expect(try commit(two, b, generation: 2) == KafkaErrorCode.none)
            #expect(try commit(two, "stranger", generation: 2) == .unknownMemberID)
            #expect(try commit(two, "", generation: -1) == .unknownMemberID)

            let described = try one.roundTrip(.describeGroups(DescribeGroupsRequest(groups: ["billing"])), version: 5, as: DescribeGroupsResponse.self)
            #expect(described.groups.map(\.groupState) == ["Stable"] && described.groups[0].members.map(\.memberID) == [a, b])
            #expect(described.groups[0].members.map { String(buffer: $0.memberAssignment) } == ["p0", "p1 p2"])
            #expect(described.groups[0].members.map(\.clientHost) == ["127.0.0.1", "127.0.0.1"])
            let listed = try one.roundTrip(.listGroups(ListGroupsRequest(statesFilter: ["stable"])), version: 4, as: ListGroupsResponse.self)
            #expect(listed.groups == [ListGroupsResponse.Group(groupID: "billing", protocolType: "consumer", groupState: "Stable")])

            // b leaves: a is told to rejoin, and then leads a group of one.
            let left = try two.roundTrip(.leaveGroup(LeaveGroupRequest(groupID: "billing", members: [.init(memberID: b)])), version: 4, as: LeaveGroupResponse.self)
            #expect(left.errorCode == .none && left.members.map(\.errorCode) == [.none])
            #expect(try heartbeat(one, a, generation: 2) == .rebalanceInProgress)
            let alone = try one.readResponse(JoinGroupResponse.self, version: 7, correlationID: try join(one, memberID: a))
            #expect(alone.generationID == 3 && alone.members.map(\.memberID) == [a])

            // A join left waiting when the endpoint stops is answered by closing its connection.
            let three = try TestKafkaClient(port: fixture.server.port)
            _ = try newMember(three)
            try await heartbeatUntilRebalance(one, a, generation: 3)
        }
    }

    /// The endpoint's timer ends the session of a member that stops heartbeating: the other
    /// is told to rejoin and then leads a group of one.
    @Test func aSilentMemberIsRemovedWhenItsSessionEnds() async throws {
        let settings = GroupCoordinator.Settings(minimumSessionTimeoutMs: 100, initialRebalanceDelayMs: 0)
        try await KafkaServerTests.withServer(groups: settings) { fixture in
            let one = try TestKafkaClient(port: fixture.server.port)
            let two = try TestKafkaClient(port: fixture.server.port)
            func join(_ client: TestKafkaClient, _ memberID: String, sessionMs: Int32) throws -> Int32 {
                try client.send(
                    .joinGroup(JoinGroupRequest(
                        groupID: "billing", sessionTimeoutMs: sessionMs, rebalanceTimeoutMs: 30_000, memberID: memberID, protocolType: "consumer",
                        protocols: Self.protocols)),
                    version: 3)
            }
            let a = try one.readResponse(JoinGroupResponse.self, version: 3, correlationID: try join(one, "", sessionMs: 30_000))
            _ = try one.readResponse(SyncGroupResponse.self, version: 5, correlationID: try sync(one, a.memberID, generation: 1, assignments: [a.memberID: "all"]))
            // b joins with a 500 ms session; a rejoins; generation 2 has both.
            let joinB = try join(two, "", sessionMs: 500)
            // b's join reaches the group on its own connection: a hears of it soon after.
            try await heartbeatUntilRebalance(one, a.memberID, generation: 1)
            let rejoined = try one.readResponse(JoinGroupResponse.self, version: 3, correlationID: try join(one, a.memberID, sessionMs: 30_000))
            let b = try two.readResponse(JoinGroupResponse.self, version: 3, correlationID: joinB)
            #expect(rejoined.generationID == 2 && rejoined.members.count == 2)
            let syncB = try sync(two, b.memberID, generation: 2)
            _ = try one.readResponse(SyncGroupResponse.self, version: 5, correlationID: try sync(one, a.memberID, generation: 2, assignments: [a.memberID: "p0", b.memberID: "p1"]))
            _ = try two.readResponse(SyncGroupResponse.self, version: 5, correlationID: syncB)
            // b falls silent; a heartbeats until it is told to rejoin.
            let silentSince = ContinuousClock.now
            try await heartbeatUntilRebalance(one, a.memberID, generation: 2)
            #expect(ContinuousClock.now - silentSince >= .milliseconds(500))
            let alone = try one.readResponse(JoinGroupResponse.self, version: 3, correlationID: try join(one, a.memberID, sessionMs: 30_000))
            #expect(alone.generationID == 3 && alone.members.map(\.memberID) == [a.memberID])
            #expect(try heartbeat(two, b.memberID, generation: 2) == .unknownMemberID)
        }
    }

    @Test func membershipAPIsAreAdvertisedAndOldVersionsWork() async throws {
        try await KafkaServerTests.withServer(groups: .init(initialRebalanceDelayMs: 0)) { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            // v0: no MEMBER_ID_REQUIRED, no rebalance timeout; the join waits and is answered.
            let correlationID = try client.send(
                .joinGroup(JoinGroupRequest(groupID: "billing", sessionTimeoutMs: 10_000, memberID: "", protocolType: "consumer", protocols: Self.protocols)),
                version: 0)
            let joined = try client.readResponse(JoinGroupResponse.self, version: 0, correlationID: correlationID)
            #expect(joined.errorCode == .none && joined.generationID == 1 && joined.memberID.hasPrefix("endpoint-tests-"))
            let left = try client.roundTrip(.leaveGroup(LeaveGroupRequest(groupID: "billing", memberID: joined.memberID)), version: 0, as: LeaveGroupResponse.self)
            #expect(left.errorCode == .none)
            let again = try client.roundTrip(.leaveGroup(LeaveGroupRequest(groupID: "billing", memberID: joined.memberID)), version: 0, as: LeaveGroupResponse.self)
            #expect(again.errorCode == .unknownMemberID)
        }
    }
}
