import KafkaProtocol
import NIOCore
import Testing
@testable import KafkaEndpoint

/// The classic group protocol as a value, driven by hand with an injected clock: joins,
/// generations, leaders, rebalances, timeouts, and the errors Kafka's coordinator answers.
@Suite struct GroupCoordinatorTests {
    static let group = "billing"
    static let sessionMs: Int32 = 10_000
    static let rebalanceMs: Int32 = 60_000

    static func subscription(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
    static let rangeAndRoundRobin = [
        JoinGroupRequest.GroupProtocol(name: "range", metadata: subscription("range-sub")),
        JoinGroupRequest.GroupProtocol(name: "roundrobin", metadata: subscription("rr-sub")),
    ]

    /// The coordinator, a clock, and the answers its actions gave to waiting requests.
    struct Harness {
        var coordinator: GroupCoordinator
        var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        var joinAnswers: [String: JoinGroupResponse] = [:]
        var syncAnswers: [String: SyncGroupResponse] = [:]

        init(initialDelayMs: Int32 = 3000, maximumGroupSize: Int = 1000, maximumGroups: Int = 10_000) {
            coordinator = GroupCoordinator(
                settings: .init(initialRebalanceDelayMs: initialDelayMs, maximumGroupSize: maximumGroupSize, maximumGroups: maximumGroups), runTag: "run")
        }

        var state: GroupCoordinator.State? { coordinator.groups[GroupCoordinatorTests.group]?.state }
        var generation: Int32? { coordinator.groups[GroupCoordinatorTests.group]?.generationID }
        var memberIDs: [String] { coordinator.groups[GroupCoordinatorTests.group]?.members.map(\.memberID) ?? [] }

        mutating func apply(_ actions: [GroupAction]) {
            for action in actions {
                switch action {
                case .answerJoin(let key, let response):
                    #expect(joinAnswers[key.memberID] == nil, "a second answer to one JoinGroup of \(key)")
                    joinAnswers[key.memberID] = response
                case .answerSync(let key, let response):
                    #expect(syncAnswers[key.memberID] == nil, "a second answer to one SyncGroup of \(key)")
                    syncAnswers[key.memberID] = response
                }
            }
        }

        mutating func advance(ms: Int64) {
            now = now + .milliseconds(ms)
            apply(coordinator.expire(now: now))
        }

        mutating func join(
            _ memberID: String, client: String = "consumer", version: Int16 = 5, protocolType: String = "consumer",
            protocols: [JoinGroupRequest.GroupProtocol] = GroupCoordinatorTests.rangeAndRoundRobin, sessionMs: Int32 = GroupCoordinatorTests.sessionMs,
            rebalanceMs: Int32 = GroupCoordinatorTests.rebalanceMs, group: String = GroupCoordinatorTests.group
        ) -> GroupReply<JoinGroupResponse> {
            let request = JoinGroupRequest(
                groupID: group, sessionTimeoutMs: sessionMs, rebalanceTimeoutMs: version >= 1 ? rebalanceMs : -1, memberID: memberID,
                protocolType: protocolType, protocols: protocols)
            if memberID != "" { joinAnswers[memberID] = nil }
            let (reply, actions) = coordinator.join(request, version: version, clientID: client, clientHost: "127.0.0.1", now: now)
            apply(actions)
            return reply
        }

        /// v4+: the first join gets MEMBER_ID_REQUIRED and an id; the second waits.
        mutating func newMember(client: String = "consumer", protocols: [JoinGroupRequest.GroupProtocol] = GroupCoordinatorTests.rangeAndRoundRobin) throws -> String {
            guard case .now(let first) = join("", client: client, protocols: protocols) else { throw TestFailure("the first join waited") }
            #expect(first.errorCode == .memberIDRequired)
            #expect(first.memberID.hasPrefix("\(client)-run-"))
            let reply = join(first.memberID, client: client, protocols: protocols)
            #expect(reply == .later(GroupMemberKey(groupID: GroupCoordinatorTests.group, memberID: first.memberID)))
            return first.memberID
        }

        mutating func sync(_ memberID: String, generation: Int32? = nil, assignments: [String: String] = [:]) -> GroupReply<SyncGroupResponse> {
            syncAnswers[memberID] = nil
            let request = SyncGroupRequest(
                groupID: GroupCoordinatorTests.group, generationID: generation ?? self.generation ?? -1, memberID: memberID,
                assignments: assignments.sorted { $0.key < $1.key }.map { .init(memberID: $0.key, assignment: ByteBuffer(string: $0.value)) })
            let (reply, actions) = coordinator.sync(request, now: now)
            apply(actions)
            return reply
        }

        mutating func heartbeat(_ memberID: String, generation: Int32? = nil) -> KafkaErrorCode {
            coordinator.heartbeat(
                HeartbeatRequest(groupID: GroupCoordinatorTests.group, generationID: generation ?? self.generation ?? -1, memberID: memberID), now: now)
        }

        mutating func leave(_ memberIDs: [String], version: Int16 = 4) -> LeaveGroupResponse {
            let request = version >= 3
                ? LeaveGroupRequest(groupID: GroupCoordinatorTests.group, members: memberIDs.map { .init(memberID: $0) })
                : LeaveGroupRequest(groupID: GroupCoordinatorTests.group, memberID: memberIDs[0])
            let (response, actions) = coordinator.leave(request, now: now)
            apply(actions)
            return response
        }

        /// A Stable group of `count` members joined together (the first the leader), each
        /// assigned "part-i".
        mutating func stableGroup(of count: Int) throws -> [String] {
            let members = try (0..<count).map { try newMember(client: "c\($0)") }
            // The initial delay, extended once when more than one member came.
            advance(ms: count > 1 ? 6000 : 3000)
            #expect(state == .completingRebalance)
            #expect(members.allSatisfy { joinAnswers[$0]?.errorCode == KafkaErrorCode.none })
            let assignments = Dictionary(uniqueKeysWithValues: members.enumerated().map { ($1, "part-\($0)") })
            for follower in members.dropFirst() { _ = sync(follower) }
            _ = sync(members[0], assignments: assignments)
            #expect(state == .stable)
            for (index, member) in members.enumerated() {
                #expect(syncAnswers[member].map { String(buffer: $0.assignment) } == "part-\(index)")
            }
            joinAnswers = [:]
            syncAnswers = [:]
            return members
        }
    }

    // MARK: Forming a group

    @Test func aFirstJoinGetsAMemberIDThenTheGroupFormsAfterTheInitialDelay() throws {
        var h = Harness()
        let member = try h.newMember()
        #expect(h.state == .preparingRebalance)
        h.advance(ms: 2999)
        #expect(h.joinAnswers.isEmpty)
        h.advance(ms: 1)
        let answer = try #require(h.joinAnswers[member])
        #expect(answer.errorCode == .none && answer.generationID == 1 && answer.leader == member && answer.memberID == member)
        #expect(answer.protocolType == "consumer" && answer.protocolName == "range")
        #expect(answer.members == [JoinGroupResponse.Member(memberID: member, metadata: Self.subscription("range-sub"))])
        #expect(h.state == .completingRebalance)

        #expect(h.sync(member, assignments: [member: "everything"]) == .later(GroupMemberKey(groupID: Self.group, memberID: member)))
        #expect(h.syncAnswers[member] == SyncGroupResponse(protocolType: "consumer", protocolName: "range", assignment: ByteBuffer(string: "everything")))
        #expect(h.state == .stable)
        #expect(h.heartbeat(member) == .none)
        // Asked again once Stable: the same assignment at once.
        #expect(h.sync(member) == .now(SyncGroupResponse(protocolType: "consumer", protocolName: "range", assignment: ByteBuffer(string: "everything"))))
    }

    @Test(arguments: [Int16(0), 3])
    func beforeV4AFirstJoinWaitsWithAnIDGivenAtOnce(version: Int16) throws {
        var h = Harness()
        guard case .later(let key) = h.join("", version: version) else { throw TestFailure("expected the join to wait") }
        #expect(key.memberID.hasPrefix("consumer-run-"))
        h.advance(ms: 3000)
        #expect(h.joinAnswers[key.memberID]?.generationID == 1)
    }

    @Test func membersJoiningDuringTheInitialDelayFormOneGeneration() throws {
        var h = Harness()
        let a = try h.newMember(client: "a")
        h.advance(ms: 2000)
        let b = try h.newMember(client: "b", protocols: [.init(name: "roundrobin", metadata: Self.subscription("b-rr")), .init(name: "range", metadata: Self.subscription("b-range"))])
        // The delay runs out, but a member came meanwhile: it is extended once more.
        h.advance(ms: 1000)
        #expect(h.joinAnswers.isEmpty)
        h.advance(ms: 3000)
        #expect(h.generation == 1 && h.memberIDs == [a, b])
        // One vote each: the tie goes to the earliest member's preference.
        #expect(h.joinAnswers[a]?.protocolName == "range" && h.joinAnswers[b]?.protocolName == "range")
        #expect(h.joinAnswers[a]?.members.map(\.memberID) == [a, b])
        #expect(h.joinAnswers[a]?.members.map { String(buffer: $0.metadata) } == ["range-sub", "b-range"])
        #expect(h.joinAnswers[b]?.members == [] && h.joinAnswers[b]?.leader == a)

        // The follower asks first and waits for the leader's assignment.
        #expect(h.sync(b) == .later(GroupMemberKey(groupID: Self.group, memberID: b)))
        #expect(h.syncAnswers.isEmpty)
        _ = h.sync(a, assignments: [a: "p0", b: "p1"])
        #expect(h.syncAnswers.mapValues { String(buffer: $0.assignment) } == [a: "p0", b: "p1"])
    }

    @Test func theProtocolIsTheOneMostMembersPreferAmongThoseAllSupport() throws {
        var h = Harness()
        let rr = JoinGroupRequest.GroupProtocol(name: "roundrobin", metadata: Self.subscription("rr"))
        let range = JoinGroupRequest.GroupProtocol(name: "range", metadata: Self.subscription("range"))
        let sticky = JoinGroupRequest.GroupProtocol(name: "sticky", metadata: Self.subscription("sticky"))
        let a = try h.newMember(client: "a", protocols: [range, rr, sticky])
        _ = try h.newMember(client: "b", protocols: [sticky, rr])
        _ = try h.newMember(client: "c", protocols: [rr, range, sticky])
        h.advance(ms: 6000)
        // All support roundrobin and sticky; a and c vote roundrobin (the first of theirs that
        // all support), b votes sticky.
        #expect(h.joinAnswers[a]?.protocolName == "roundrobin")
        #expect(h.joinAnswers[a]?.members.map { String(buffer: $0.metadata) } == ["rr", "rr", "rr"])
    }

    @Test func aMemberThatSharesNoProtocolOrTypeIsRefused() throws {
        var h = Harness()
        _ = try h.newMember()
        let other = [JoinGroupRequest.GroupProtocol(name: "cooperative-sticky", metadata: ByteBuffer())]
        #expect(h.join("", protocols: other) == .now(JoinGroupResponse(errorCode: .inconsistentGroupProtocol, protocolName: nil, leader: "", memberID: "")))
        #expect(h.join("", protocolType: "connect") == .now(JoinGroupResponse(errorCode: .inconsistentGroupProtocol, protocolName: nil, leader: "", memberID: "")))
        #expect(h.join("", protocols: []) == .now(JoinGroupResponse(errorCode: .inconsistentGroupProtocol, protocolName: nil, leader: "", memberID: "")))
    }

    @Test func badJoinsAreRefusedWithKafkasErrors() throws {
        var h = Harness(maximumGroupSize: 2)
        func error(_ reply: GroupReply<JoinGroupResponse>) -> KafkaErrorCode? {
            if case .now(let response) = reply { return response.errorCode }
            return nil
        }
        #expect(error(h.join("", sessionMs: 5999)) == .invalidSessionTimeout)
        #expect(error(h.join("", sessionMs: 1_800_001)) == .invalidSessionTimeout)
        #expect(error(h.join("", group: "")) == .invalidGroupID)
        #expect(error(h.join("", group: "a/b")) == .invalidGroupID)
        #expect(error(h.join("someone-from-before")) == .unknownMemberID)
        #expect(h.coordinator.groups.isEmpty)
        _ = try h.newMember()
        _ = try h.newMember()
        #expect(error(h.join("")) == .groupMaxSizeReached)
    }

    @Test func joinsThatWouldFormAGroupPastTheMaximumAreToldToRetry() throws {
        var h = Harness(maximumGroups: 2)
        func firstJoin(_ group: String) -> KafkaErrorCode? {
            if case .now(let response) = h.join("", group: group) { return response.errorCode }
            return nil
        }
        #expect(firstJoin("one") == .memberIDRequired)
        #expect(firstJoin("two") == .memberIDRequired)
        #expect(firstJoin("three") == .coordinatorNotAvailable)
        // The groups held still take members; once one is gone, another may form.
        #expect(firstJoin("one") == .memberIDRequired)
        h.advance(ms: Int64(Self.sessionMs))
        #expect(h.coordinator.groups.isEmpty)
        #expect(firstJoin("three") == .memberIDRequired)
    }

    // MARK: Rebalances

    @Test func aLateJoinerMakesTheOthersRejoin() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 1)
        let a = members[0]
        let b = try h.newMember(client: "late")
        #expect(h.state == .preparingRebalance)
        // a learns of it from its heartbeat, and rejoins; then everyone has joined: no waiting.
        #expect(h.heartbeat(a) == .rebalanceInProgress)
        #expect(h.join(a) == .later(GroupMemberKey(groupID: Self.group, memberID: a)))
        #expect(h.generation == 2 && h.state == .completingRebalance)
        #expect(h.joinAnswers[a]?.leader == a && h.joinAnswers[a]?.members.map(\.memberID) == [a, b])
        #expect(h.joinAnswers[b]?.generationID == 2 && h.joinAnswers[b]?.members == [])
        // The old generation is over.
        #expect(h.heartbeat(a, generation: 1) == .illegalGeneration)
        #expect(h.sync(b, generation: 1) == .now(SyncGroupResponse(errorCode: .illegalGeneration, assignment: ByteBuffer())))
    }

    @Test func aJoinDuringTheSyncPhaseSendsWaitingSyncsBackToRejoin() throws {
        var h = Harness()
        let a = try h.newMember(client: "a")
        let b = try h.newMember(client: "b")
        h.advance(ms: 6000)
        _ = h.sync(b)
        _ = try h.newMember(client: "c")
        #expect(h.syncAnswers[b] == SyncGroupResponse(errorCode: .rebalanceInProgress, assignment: ByteBuffer()))
        #expect(h.sync(a) == .now(SyncGroupResponse(errorCode: .rebalanceInProgress, assignment: ByteBuffer())))
        #expect(h.state == .preparingRebalance)
    }

    @Test func aFollowerJoiningAgainUnchangedGetsTheCurrentGenerationButTheLeaderRebalances() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 2)
        guard case .now(let again) = h.join(members[1]) else { throw TestFailure("the follower's join waited") }
        #expect(again.generationID == 1 && again.leader == members[0] && again.members == [])
        #expect(h.state == .stable)
        #expect(h.join(members[0]) == .later(GroupMemberKey(groupID: Self.group, memberID: members[0])))
        #expect(h.state == .preparingRebalance)
        #expect(h.heartbeat(members[1]) == .rebalanceInProgress)
        _ = h.join(members[1])
        #expect(h.generation == 2 && h.joinAnswers.count == 2)
    }

    @Test func whenTheLeaderLeavesAnotherMemberLeads() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 3)
        #expect(h.leave([members[0]], version: 2) == LeaveGroupResponse())
        #expect(h.state == .preparingRebalance)
        #expect(h.heartbeat(members[1]) == .rebalanceInProgress)
        _ = h.join(members[2])
        #expect(h.joinAnswers.isEmpty)
        _ = h.join(members[1])
        #expect(h.generation == 2 && h.memberIDs == [members[1], members[2]])
        #expect(h.joinAnswers[members[1]]?.leader == members[1] && h.joinAnswers[members[1]]?.members.count == 2)
        #expect(h.heartbeat(members[0]) == .unknownMemberID)
    }

    @Test func leaveGroupV3AnswersPerMember() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 3)
        let response = h.leave([members[1], "nobody", members[2]])
        #expect(response.errorCode == .none)
        #expect(response.members.map(\.errorCode) == [.none, .unknownMemberID, .none])
        #expect(h.memberIDs == [members[0]])
        // The last member leaves: the group is empty, and forgotten.
        _ = h.join(members[0])
        #expect(h.generation == 2)
        #expect(h.leave([members[0]], version: 1) == LeaveGroupResponse())
        #expect(h.state == nil)
        #expect(h.leave([members[0]], version: 1) == LeaveGroupResponse(errorCode: .unknownMemberID))
    }

    @Test func aLeaveDuringTheJoinPhaseLetsItComplete() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 3)
        _ = h.join(members[0])
        _ = h.join(members[1])
        #expect(h.joinAnswers.isEmpty)
        _ = h.leave([members[2]])
        #expect(h.generation == 2 && h.joinAnswers.keys.sorted() == [members[0], members[1]].sorted())
    }

    // MARK: Timeouts

    @Test func aMemberWhoseSessionEndsIsRemovedAndTheOthersRebalance() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 2)
        let (a, b) = (members[0], members[1])
        h.advance(ms: 6000)
        #expect(h.heartbeat(b) == .none)
        #expect(h.coordinator.nextDeadline == h.now + .milliseconds(4000))
        // a's session (10 s since its assignment) ends; b's does not.
        h.advance(ms: 3999)
        #expect(h.memberIDs == [a, b])
        h.advance(ms: 1)
        #expect(h.memberIDs == [b] && h.state == .preparingRebalance)
        #expect(h.heartbeat(a) == .unknownMemberID)
        #expect(h.heartbeat(b) == .rebalanceInProgress)
        _ = h.join(b)
        #expect(h.generation == 2 && h.joinAnswers[b]?.leader == b)
    }

    @Test func membersThatDoNotRejoinWithinTheRebalanceTimeoutAreRemoved() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 2)
        let (a, b) = (members[0], members[1])
        guard case .later(let c) = h.join("", client: "v3", version: 3) else { throw TestFailure("expected a wait") }
        _ = h.join(a)
        // b keeps heartbeating but never rejoins.
        for _ in 0..<19 {
            h.advance(ms: 3000)
            #expect(h.heartbeat(b) == .rebalanceInProgress)
        }
        #expect(h.joinAnswers.isEmpty)
        h.advance(ms: 3000)
        #expect(h.memberIDs == [a, c.memberID] && h.generation == 2)
        #expect(h.joinAnswers.keys.sorted() == [a, c.memberID].sorted())
        #expect(h.heartbeat(b) == .unknownMemberID)
    }

    @Test func membersThatNeverSyncAreRemovedAtTheRebalanceTimeout() throws {
        var h = Harness()
        let a = try h.newMember(client: "a")
        let b = try h.newMember(client: "b")
        h.advance(ms: 6000)
        _ = h.sync(a, assignments: [a: "p0", b: "p1"])
        #expect(h.state == .stable)
        // b heartbeats (alive) but never asks for its assignment.
        for _ in 0..<19 {
            h.advance(ms: 3000)
            #expect(h.heartbeat(b) == .none)
            #expect(h.heartbeat(a) == .none)
        }
        h.advance(ms: 3000)
        #expect(h.memberIDs == [a] && h.state == .preparingRebalance)
    }

    @Test func nothingTimedIsLeftBehindOnceAGroupIsStable() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 2)
        // Only the sessions are timed, from the assignment on; past them, nothing at all.
        #expect(h.coordinator.nextDeadline == h.now + .milliseconds(Int64(Self.sessionMs)))
        _ = h.leave(members)
        #expect(h.coordinator.nextDeadline == nil && h.coordinator.groups.isEmpty)
    }

    @Test func aMemberToBeThatNeverComesBackExpires() throws {
        var h = Harness()
        guard case .now(let first) = h.join("") else { throw TestFailure("expected MEMBER_ID_REQUIRED") }
        #expect(h.state == .empty)
        h.advance(ms: Int64(Self.sessionMs))
        #expect(h.state == nil)
        #expect(h.join(first.memberID) == .now(JoinGroupResponse(errorCode: .unknownMemberID, protocolName: nil, leader: "", memberID: first.memberID)))
    }

    @Test func aJoiningMemberIsNotExpiredWhileItWaits() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 2)
        _ = h.join(members[0])
        // Waiting in JoinGroup for longer than its session (the other heartbeats): still a member.
        for _ in 0..<6 {
            h.advance(ms: 3000)
            #expect(h.heartbeat(members[1]) == .rebalanceInProgress)
        }
        #expect(h.memberIDs == members)
        _ = h.join(members[1])
        #expect(h.generation == 2)
    }

    // MARK: Offsets and descriptions

    @Test func offsetCommitsAreCheckedAgainstTheGeneration() throws {
        var h = Harness()
        func check(_ generation: Int32, _ member: String, group: String = GroupCoordinatorTests.group) -> KafkaErrorCode? {
            h.coordinator.offsetCommitError(groupID: group, generationID: generation, memberID: member, groupInstanceID: nil)
        }
        // No members: a consumer that assigns itself commits; a member of nothing does not.
        #expect(check(-1, "") == nil)
        #expect(check(-1, "anyone") == nil)
        #expect(check(4, "consumer-1") == .unknownMemberID)
        let a = try h.newMember(client: "a")
        let b = try h.newMember(client: "b")
        h.advance(ms: 6000)
        #expect(check(1, a) == .rebalanceInProgress)
        _ = h.sync(a, assignments: [a: "p0", b: "p1"])
        #expect(check(1, a) == nil && check(1, b) == nil)
        #expect(check(0, a) == .illegalGeneration)
        #expect(check(1, "stranger") == .unknownMemberID)
        #expect(check(-1, "") == .unknownMemberID)
        #expect(check(-1, "", group: "other") == nil)
        // During the join phase members still commit what they consumed.
        _ = try h.newMember(client: "c")
        #expect(check(1, a) == nil)
    }

    @Test func describeShowsMembersAndTheirAssignmentsOnceStable() throws {
        var h = Harness()
        let members = try h.stableGroup(of: 2)
        let described = try #require(h.coordinator.describe(Self.group))
        #expect(described.groupState == "Stable" && described.protocolType == "consumer" && described.protocolData == "range")
        #expect(described.members.map(\.memberID) == members && described.members.map(\.clientID) == ["c0", "c1"])
        #expect(described.members.map { String(buffer: $0.memberAssignment) } == ["part-0", "part-1"])
        #expect(described.members.map { String(buffer: $0.memberMetadata) } == ["range-sub", "range-sub"])
        _ = h.join(members[0])
        let rebalancing = try #require(h.coordinator.describe(Self.group))
        #expect(rebalancing.groupState == "PreparingRebalance" && rebalancing.protocolData == "")
        #expect(rebalancing.members.allSatisfy { $0.memberAssignment.readableBytes == 0 })
        #expect(h.coordinator.listing.map(\.groupID) == [Self.group] && h.coordinator.listing.map(\.state) == [.preparingRebalance])
        #expect(h.coordinator.describe("other") == nil)
    }
}
