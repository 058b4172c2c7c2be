import KafkaProtocol
import NIOCore
import SegmentLog

/// A group member as a pending JoinGroup or SyncGroup answer is keyed: the NIO layer holds the
/// request under this key until an action answers it.
struct GroupMemberKey: Sendable, Hashable, CustomStringConvertible {
    var groupID: String
    var memberID: String
    var description: String { "\(groupID)/\(memberID)" }
}

/// An answer the coordinator gives now, or later through an action (the request waits).
enum GroupReply<Response: Sendable & Hashable>: Sendable, Hashable {
    case now(Response)
    /// The request waits under this key until a `GroupAction` answers it.
    case later(GroupMemberKey)
}

/// What the NIO layer must do after a call: answer requests that were waiting.
enum GroupAction: Sendable, Hashable {
    case answerJoin(GroupMemberKey, JoinGroupResponse)
    case answerSync(GroupMemberKey, SyncGroupResponse)
}

/// The classic consumer-group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) as a
/// value: every group's members, generation, chosen protocol and leader, and the rebalance in
/// progress. It does no I/O and reads no clock: each call takes the time, and returns the
/// answer (now, or later) and the waiting requests it answers. The NIO layer holds those
/// requests and calls `expire(now:)` from a timer.
///
/// A group goes Empty → PreparingRebalance (members join; the first rebalance of an empty
/// group waits `initialRebalanceDelay` for more members, as Kafka's brokers do) →
/// CompletingRebalance (every member got its JoinGroup answer, the leader the members'
/// subscriptions; the leader's SyncGroup brings the assignment) → Stable (each member has its
/// assignment); a join, a leave, a session expiry or a changed subscription starts the next
/// rebalance, which members learn from Heartbeat's REBALANCE_IN_PROGRESS.
///
/// Static membership (group.instance.id) is not honoured: such members are dynamic ones here.
/// Groups live in memory; a group is forgotten once Empty, and committed offsets (in the log
/// directory) are what outlives it.
struct GroupCoordinator: Sendable {
    struct Settings: Sendable, Hashable {
        /// Kafka's group.min.session.timeout.ms and group.max.session.timeout.ms.
        var minimumSessionTimeoutMs: Int32 = 6000
        var maximumSessionTimeoutMs: Int32 = 1_800_000
        /// Kafka's group.initial.rebalance.delay.ms: the first rebalance of an empty group
        /// waits this long (again after each new member, up to the rebalance timeout), so a
        /// group of consumers started together forms in one generation.
        var initialRebalanceDelayMs: Int32 = 3000
        /// Members and members-to-be (MEMBER_ID_REQUIRED answered, not yet rejoined) of one
        /// group: a bound on what clients can make this endpoint hold.
        var maximumGroupSize: Int = 1000
        /// Groups held at once (with members or members-to-be): the other bound on it. A join
        /// that would form one more answers COORDINATOR_NOT_AVAILABLE, which clients retry.
        var maximumGroups: Int = 10_000

        init(
            minimumSessionTimeoutMs: Int32 = 6000, maximumSessionTimeoutMs: Int32 = 1_800_000, initialRebalanceDelayMs: Int32 = 3000,
            maximumGroupSize: Int = 1000, maximumGroups: Int = 10_000
        ) {
            self.minimumSessionTimeoutMs = minimumSessionTimeoutMs
            self.maximumSessionTimeoutMs = maximumSessionTimeoutMs
            self.initialRebalanceDelayMs = initialRebalanceDelayMs
            self.maximumGroupSize = maximumGroupSize
            self.maximumGroups = maximumGroups
        }
    }

    enum State: String, Sendable, Hashable {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
    }

    struct Member: Sendable, Hashable {
        var memberID: String
        var groupInstanceID: String?
        var clientID: String
        var clientHost: String
        var sessionTimeout: TimeAmount
        var rebalanceTimeout: TimeAmount
        /// The assignment protocols it supports, in its order of preference, each with its
        /// subscription (opaque here).
        var protocols: [JoinGroupRequest.GroupProtocol]
        /// What the leader assigned it in this generation.
        var assignment = ByteBuffer()
        /// A JoinGroup of it waits for the rebalance to complete.
        var awaitingJoin = false
        /// A SyncGroup of it waits for the leader's assignment.
        var awaitingSync = false
        /// Past this without a heartbeat (or a join or sync), the member is gone. A member whose
        /// JoinGroup or SyncGroup waits is alive: it cannot heartbeat meanwhile.
        var sessionDeadline: NIODeadline

        func metadata(for protocolName: String?) -> ByteBuffer {
            protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
        }

        func sameProtocols(as offered: [JoinGroupRequest.GroupProtocol]) -> Bool { protocols == offered }
    }

    struct InitialDelay: Sendable, Hashable {
        var remaining: TimeAmount
        var memberAdded: Bool
    }

    struct Group: Sendable, Hashable {
        var state: State = .empty
        var generationID: Int32 = 0
        var protocolType: String?
        var protocolName: String?
        var leaderID: String?
        /// In the order they joined.
        var members: [Member] = []
        /// Members-to-be: MEMBER_ID_REQUIRED gave them an id; they expire at the deadline unless
        /// they join with it.
        var pendingMembers: [String: NIODeadline] = [:]
        /// PreparingRebalance: when the join phase ends whoever has rejoined.
        var joinDeadline: NIODeadline?
        /// The first rebalance of an empty group: the time left to extend the initial delay by,
        /// and whether a member joined since it was last extended.
        var initialDelay: InitialDelay?
        /// Members of this generation that have not sent SyncGroup yet, and until when they may.
        var pendingSync: Set<String> = []
        var syncDeadline: NIODeadline?

        func index(of memberID: String) -> Int? { members.firstIndex { $0.memberID == memberID } }
        func member(_ memberID: String) -> Member? { index(of: memberID).map { members[$0] } }

        var rebalanceTimeout: TimeAmount { members.map(\.rebalanceTimeout).max() ?? .zero }

        /// Every member has (re)joined and nobody told to rejoin with a new id is still to come.
        var allMembersJoined: Bool { members.allSatisfy(\.awaitingJoin) && pendingMembers.isEmpty }

        /// The protocols every member supports.
        var commonProtocols: Set<String> {
            guard let first = members.first else { return [] }
            return members.dropFirst().reduce(Set(first.protocols.map(\.name))) { $0.intersection($1.protocols.map(\.name)) }
        }

        /// Whether a member offering these may be in the group: the same protocol type and a
        /// protocol every current member supports.
        func accepts(protocolType: String, protocols: [JoinGroupRequest.GroupProtocol]) -> Bool {
            guard !protocolType.isEmpty, !protocols.isEmpty else { return false }
            guard !members.isEmpty else { return true }
            return protocolType == self.protocolType && protocols.contains { commonProtocols.contains($0.name) }
        }

        /// The protocol most members prefer among those all support: each member votes for the
        /// first of its own list that all support; a tie goes to the earliest member's order.
        func selectProtocol() -> String? {
            let candidates = commonProtocols
            var votes: [String: Int] = [:]
            for member in members {
                if let choice = member.protocols.first(where: { candidates.contains($0.name) }) { votes[choice.name, default: 0] += 1 }
            }
            let order = members.first?.protocols.map(\.name).filter(candidates.contains) ?? []
            return order.max { (votes[$0] ?? 0, order.firstIndex(of: $1)!) < (votes[$1] ?? 0, order.firstIndex(of: $0)!) }
        }

        /// The JoinGroup answer of `memberID` for the current generation: the members and their
        /// subscriptions for the leader, nothing for the others.
        func joinResponse(for memberID: String) -> JoinGroupResponse {
            let members = memberID == leaderID
                ? self.members.map { JoinGroupResponse.Member(memberID: $0.memberID, groupInstanceID: $0.groupInstanceID, metadata: $0.metadata(for: protocolName)) }
                : []
            return JoinGroupResponse(
                generationID: generationID, protocolType: protocolType, protocolName: protocolName, leader: leaderID ?? "", memberID: memberID,
                members: members)
        }
    }

    var settings: Settings
    private(set) var groups: [String: Group] = [:]
    /// Part of every member id: differs between runs of the endpoint, so a member of a previous
    /// run is never taken for one of this run (generations restart with the process).
    let runTag: String
    private var membersCreated: UInt64 = 0

    init(settings: Settings = Settings(), runTag: String) {
        self.settings = settings
        self.runTag = runTag
    }

    // MARK: JoinGroup

    mutating func join(
        _ request: JoinGroupRequest, version: Int16, clientID: String, clientHost: String, now: NIODeadline
    ) -> (reply: GroupReply<JoinGroupResponse>, actions: [GroupAction]) {
        func refuse(_ code: KafkaErrorCode, memberID: String = request.memberID) -> (reply: GroupReply<JoinGroupResponse>, actions: [GroupAction]) {
            (.now(JoinGroupResponse(errorCode: code, protocolName: nil, leader: "", memberID: memberID)), [])
        }
        let groupID = request.groupID
        guard (try? ConsumerGroups.validate(group: groupID)) != nil else { return refuse(.invalidGroupID) }
        guard (settings.minimumSessionTimeoutMs...settings.maximumSessionTimeoutMs).contains(request.sessionTimeoutMs) else {
            return refuse(.invalidSessionTimeout)
        }
        let isNewMember = request.memberID.isEmpty
        // A known member id for a group that is not here: a member of a group this run never
        // formed (or already forgot), which must join again from scratch.
        guard var group = groups[groupID] ?? (isNewMember ? Group() : nil) else { return refuse(.unknownMemberID) }
        guard groups[groupID] != nil || groups.count < settings.maximumGroups else { return refuse(.coordinatorNotAvailable, memberID: "") }
        defer { store(group, as: groupID) }
        guard group.accepts(protocolType: request.protocolType, protocols: request.protocols) else {
            return refuse(.inconsistentGroupProtocol, memberID: isNewMember ? "" : request.memberID)
        }
        let sessionTimeout = TimeAmount.milliseconds(Int64(request.sessionTimeoutMs))
        // v0 has no rebalance timeout: the session timeout served as both.
        let rebalanceTimeout = TimeAmount.milliseconds(Int64(request.rebalanceTimeoutMs >= 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs))

        if isNewMember || group.pendingMembers[request.memberID] != nil {
            if isNewMember && group.members.count + group.pendingMembers.count >= settings.maximumGroupSize {
                return refuse(.groupMaxSizeReached, memberID: "")
            }
            let memberID = isNewMember ? newMemberID(clientID: clientID) : request.memberID
            // v4+: the member must come back with the id, so a client that gives up on this
            // answer leaves no member behind (only one to be, which expires).
            if isNewMember && version >= 4 {
                group.pendingMembers[memberID] = now + sessionTimeout
                return (.now(JoinGroupResponse(errorCode: .memberIDRequired, protocolName: nil, leader: "", memberID: memberID)), [])
            }
            group.pendingMembers[memberID] = nil
            let member = Member(
                memberID: memberID, groupInstanceID: request.groupInstanceID, clientID: clientID, clientHost: clientHost,
                sessionTimeout: sessionTimeout, rebalanceTimeout: rebalanceTimeout, protocols: request.protocols, awaitingJoin: true,
                sessionDeadline: now + sessionTimeout)
            if group.members.isEmpty { group.protocolType = request.protocolType }
            group.members.append(member)
            if group.leaderID == nil { group.leaderID = memberID }
            if group.initialDelay != nil { group.initialDelay!.memberAdded = true }
            let actions = maybePrepareRebalanceOrCompleteJoin(&group, groupID: groupID, now: now)
            return (.later(GroupMemberKey(groupID: groupID, memberID: memberID)), actions)
        }

        guard let index = group.index(of: request.memberID) else { return refuse(.unknownMemberID) }
        let key = GroupMemberKey(groupID: groupID, memberID: request.memberID)
        func update(_ group: inout Group) {
            group.members[index].protocols = request.protocols
            group.members[index].sessionTimeout = sessionTimeout
            group.members[index].rebalanceTimeout = rebalanceTimeout
            group.members[index].awaitingJoin = true
            group.members[index].sessionDeadline = now + sessionTimeout
        }
        let member = group.members[index]
        switch group.state {
        case .preparingRebalance:
            update(&group)
            return (.later(key), maybeCompleteJoin(&group, groupID: groupID, now: now))
        case .completingRebalance where member.sameProtocols(as: request.protocols),
             .stable where member.memberID != group.leaderID && member.sameProtocols(as: request.protocols):
            // Joining again with nothing changed (it missed the answer, say): the current
            // generation as it stands. A leader's join in Stable rebalances, so that it can
            // reassign after a change of topics its members' subscriptions do not show.
            return (.now(group.joinResponse(for: member.memberID)), [])
        case .completingRebalance, .stable:
            update(&group)
            return (.later(key), maybePrepareRebalanceOrCompleteJoin(&group, groupID: groupID, now: now))
        case .empty:
            return refuse(.unknownMemberID)
        }
    }

    // MARK: SyncGroup

    mutating func sync(_ request: SyncGroupRequest, now: NIODeadline) -> (reply: GroupReply<SyncGroupResponse>, actions: [GroupAction]) {
        func refuse(_ code: KafkaErrorCode) -> (reply: GroupReply<SyncGroupResponse>, actions: [GroupAction]) {
            (.now(SyncGroupResponse(errorCode: code, assignment: ByteBuffer())), [])
        }
        let groupID = request.groupID
        guard var group = groups[groupID], let index = group.index(of: request.memberID) else { return refuse(.unknownMemberID) }
        guard request.generationID == group.generationID else { return refuse(.illegalGeneration) }
        if let type = request.protocolType, type != group.protocolType { return refuse(.inconsistentGroupProtocol) }
        if let name = request.protocolName, name != group.protocolName { return refuse(.inconsistentGroupProtocol) }
        defer { store(group, as: groupID) }
        let key = GroupMemberKey(groupID: groupID, memberID: request.memberID)
        group.pendingSync.remove(request.memberID)
        if group.pendingSync.isEmpty { group.syncDeadline = nil }
        switch group.state {
        case .empty, .preparingRebalance:
            return refuse(.rebalanceInProgress)
        case .stable:
            group.members[index].sessionDeadline = now + group.members[index].sessionTimeout
            return (.now(syncResponse(group, group.members[index])), [])
        case .completingRebalance:
            group.members[index].awaitingSync = true
            guard request.memberID == group.leaderID else { return (.later(key), []) }
            // The leader's assignment: each member gets its part (nothing if the leader gave it
            // none), the waiting ones now, the others when they ask.
            let assigned = Dictionary(request.assignments.map { ($0.memberID, $0.assignment) }, uniquingKeysWith: { _, last in last })
            for i in group.members.indices { group.members[i].assignment = assigned[group.members[i].memberID] ?? ByteBuffer() }
            group.state = .stable
            return (.later(key), propagateAssignment(&group, groupID: groupID, error: .none, now: now))
        }
    }

    // MARK: Heartbeat

    mutating func heartbeat(_ request: HeartbeatRequest, now: NIODeadline) -> KafkaErrorCode {
        guard var group = groups[request.groupID], let index = group.index(of: request.memberID) else { return .unknownMemberID }
        guard request.generationID == group.generationID else { return .illegalGeneration }
        defer { store(group, as: request.groupID) }
        switch group.state {
        case .empty:
            return .unknownMemberID
        case .preparingRebalance:
            group.members[index].sessionDeadline = now + group.members[index].sessionTimeout
            return .rebalanceInProgress
        case .completingRebalance, .stable:
            // A member may heartbeat between its JoinGroup answer and its SyncGroup: alive.
            group.members[index].sessionDeadline = now + group.members[index].sessionTimeout
            return .none
        }
    }

    // MARK: LeaveGroup

    /// Per member leaving: none, or UNKNOWN_MEMBER_ID; the whole request fails with
    /// UNKNOWN_MEMBER_ID when the group is not here.
    mutating func leave(_ request: LeaveGroupRequest, now: NIODeadline) -> (response: LeaveGroupResponse, actions: [GroupAction]) {
        guard var group = groups[request.groupID] else { return (LeaveGroupResponse(errorCode: .unknownMemberID), []) }
        defer { store(group, as: request.groupID) }
        var actions: [GroupAction] = []
        var answers: [LeaveGroupResponse.Member] = []
        var anyLeft = false
        for leaving in request.leavingMembers {
            // Administrative removal names the instance id only.
            let memberID = leaving.memberID.isEmpty
                ? leaving.groupInstanceID.flatMap { instance in group.members.first { $0.groupInstanceID == instance }?.memberID } ?? ""
                : leaving.memberID
            if group.pendingMembers.removeValue(forKey: memberID) != nil || group.index(of: memberID) != nil {
                actions += remove(memberID, from: &group, groupID: request.groupID)
                anyLeft = true
                answers.append(LeaveGroupResponse.Member(memberID: leaving.memberID, groupInstanceID: leaving.groupInstanceID))
            } else {
                answers.append(LeaveGroupResponse.Member(memberID: leaving.memberID, groupInstanceID: leaving.groupInstanceID, errorCode: .unknownMemberID))
            }
        }
        if anyLeft {
            switch group.state {
            case .stable, .completingRebalance: actions += prepareRebalance(&group, groupID: request.groupID, now: now)
            case .preparingRebalance: actions += maybeCompleteJoin(&group, groupID: request.groupID, now: now)
            case .empty: break
            }
        }
        // v0–v2 name one member and answer with its error; v3+ answer per member.
        let response = request.members.isEmpty
            ? LeaveGroupResponse(errorCode: answers.first?.errorCode ?? .none)
            : LeaveGroupResponse(members: answers)
        return (response, actions)
    }

    // MARK: Time

    /// Members whose session ended, members-to-be that never came back, join phases and sync
    /// phases past their deadline: what a timer calls.
    mutating func expire(now: NIODeadline) -> [GroupAction] {
        var actions: [GroupAction] = []
        for groupID in groups.keys.sorted() {
            guard var group = groups[groupID] else { continue }
            let expiredPending = group.pendingMembers.filter { $0.value <= now }.keys
            for memberID in expiredPending { group.pendingMembers[memberID] = nil }
            let expired = group.members.filter { !$0.awaitingJoin && !$0.awaitingSync && $0.sessionDeadline <= now }.map(\.memberID)
            for memberID in expired { actions += remove(memberID, from: &group, groupID: groupID) }
            if !expired.isEmpty, group.state == .stable || group.state == .completingRebalance {
                actions += prepareRebalance(&group, groupID: groupID, now: now)
            } else if !expired.isEmpty || !expiredPending.isEmpty {
                actions += maybeCompleteJoin(&group, groupID: groupID, now: now)
            }
            while group.state == .preparingRebalance, let deadline = group.joinDeadline, deadline <= now {
                if let delay = group.initialDelay, delay.memberAdded, delay.remaining > .zero {
                    // A member came during the initial delay: wait once more for others.
                    let next = min(TimeAmount.milliseconds(Int64(settings.initialRebalanceDelayMs)), delay.remaining)
                    group.initialDelay = InitialDelay(remaining: delay.remaining - next, memberAdded: false)
                    group.joinDeadline = deadline + next
                } else {
                    actions += completeJoin(&group, groupID: groupID, now: now)
                }
            }
            if let deadline = group.syncDeadline, deadline <= now {
                // Cleared whatever follows, so that a passed deadline never keeps the timer firing.
                group.syncDeadline = nil
                if !group.pendingSync.isEmpty {
                    // Members that never asked for their assignment: gone; the rest rebalance.
                    for memberID in group.pendingSync.sorted() { actions += remove(memberID, from: &group, groupID: groupID) }
                    group.pendingSync = []
                    actions += prepareRebalance(&group, groupID: groupID, now: now)
                }
            }
            store(group, as: groupID)
        }
        return actions
    }

    /// The earliest time `expire(now:)` has something to do; nil when nothing is timed.
    var nextDeadline: NIODeadline? {
        groups.values.flatMap { group in
            group.pendingMembers.values.map { $0 }
                + group.members.filter { !$0.awaitingJoin && !$0.awaitingSync }.map(\.sessionDeadline)
                + [group.joinDeadline, group.syncDeadline].compactMap { $0 }
        }.min()
    }

    // MARK: Offsets and descriptions

    /// Whether an OffsetCommit may store offsets, as Kafka's coordinator decides: a commit
    /// naming no generation (-1) is a consumer that assigns itself, accepted while the group
    /// has no members; a member's commit must name its member id and the current generation.
    /// A group not held here is an empty one (its committed offsets are all that remains).
    func offsetCommitError(groupID: String, generationID: Int32, memberID: String, groupInstanceID: String?) -> KafkaErrorCode? {
        let group = groups[groupID] ?? Group()
        if generationID < 0 && group.state == .empty { return nil }
        if generationID >= 0 || !memberID.isEmpty || groupInstanceID != nil {
            guard group.member(memberID) != nil else { return .unknownMemberID }
            guard generationID == group.generationID else { return .illegalGeneration }
        } else if group.state != .empty {
            return .unknownMemberID
        }
        return group.state == .completingRebalance ? .rebalanceInProgress : nil
    }

    /// DescribeGroups for a group held here, nil for others. Subscriptions and assignments
    /// only while Stable, as Kafka describes a group.
    func describe(_ groupID: String) -> DescribeGroupsResponse.Group? {
        guard let group = groups[groupID] else { return nil }
        let stable = group.state == .stable
        return DescribeGroupsResponse.Group(
            groupID: groupID, groupState: group.state.rawValue, protocolType: group.protocolType ?? "",
            protocolData: stable ? group.protocolName ?? "" : "",
            members: group.members.map {
                DescribeGroupsResponse.Member(
                    memberID: $0.memberID, groupInstanceID: $0.groupInstanceID, clientID: $0.clientID, clientHost: $0.clientHost,
                    memberMetadata: stable ? $0.metadata(for: group.protocolName) : ByteBuffer(), memberAssignment: stable ? $0.assignment : ByteBuffer())
            })
    }

    /// The groups held here: id, protocol type and state.
    var listing: [(groupID: String, protocolType: String, state: State)] {
        groups.sorted { $0.key < $1.key }.map { ($0.key, $0.value.protocolType ?? "", $0.value.state) }
    }

    // MARK: Transitions

    private mutating func store(_ group: Group, as groupID: String) {
        // Forgotten once nobody is in it or coming: memory stays bounded by the live groups.
        if group.state == .empty && group.members.isEmpty && group.pendingMembers.isEmpty {
            groups[groupID] = nil
        } else {
            groups[groupID] = group
        }
    }

    private mutating func newMemberID(clientID: String) -> String {
        membersCreated += 1
        let prefix = clientID.isEmpty ? "member" : String(clientID.prefix(64))
        return "\(prefix)-\(runTag)-\(membersCreated)"
    }

    /// Takes a member out; its waiting JoinGroup or SyncGroup answers UNKNOWN_MEMBER_ID. The
    /// caller decides on the rebalance.
    private func remove(_ memberID: String, from group: inout Group, groupID: String) -> [GroupAction] {
        guard let index = group.index(of: memberID) else { return [] }
        let member = group.members.remove(at: index)
        group.pendingSync.remove(memberID)
        if group.leaderID == memberID { group.leaderID = group.members.first?.memberID }
        let key = GroupMemberKey(groupID: groupID, memberID: memberID)
        var actions: [GroupAction] = []
        if member.awaitingJoin {
            actions.append(.answerJoin(key, JoinGroupResponse(errorCode: .unknownMemberID, protocolName: nil, leader: "", memberID: "")))
        }
        if member.awaitingSync { actions.append(.answerSync(key, SyncGroupResponse(errorCode: .unknownMemberID, assignment: ByteBuffer()))) }
        return actions
    }

    private func maybePrepareRebalanceOrCompleteJoin(_ group: inout Group, groupID: String, now: NIODeadline) -> [GroupAction] {
        group.state == .preparingRebalance
            ? maybeCompleteJoin(&group, groupID: groupID, now: now) : prepareRebalance(&group, groupID: groupID, now: now)
    }

    /// Starts a rebalance: waiting SyncGroups answer REBALANCE_IN_PROGRESS (their members
    /// rejoin), and the join phase begins.
    private func prepareRebalance(_ group: inout Group, groupID: String, now: NIODeadline) -> [GroupAction] {
        var actions: [GroupAction] = []
        if group.state == .completingRebalance {
            for i in group.members.indices { group.members[i].assignment = ByteBuffer() }
            actions += propagateAssignment(&group, groupID: groupID, error: .rebalanceInProgress, now: now)
        }
        group.pendingSync = []
        group.syncDeadline = nil
        let initial = group.state == .empty
        group.state = .preparingRebalance
        if initial {
            let delay = TimeAmount.milliseconds(Int64(settings.initialRebalanceDelayMs))
            group.initialDelay = InitialDelay(remaining: max(.zero, group.rebalanceTimeout - delay), memberAdded: false)
            group.joinDeadline = now + delay
            return actions
        }
        group.joinDeadline = now + group.rebalanceTimeout
        return actions + maybeCompleteJoin(&group, groupID: groupID, now: now)
    }

    /// Ends the join phase once everyone has rejoined (not before the initial delay is over).
    private func maybeCompleteJoin(_ group: inout Group, groupID: String, now: NIODeadline) -> [GroupAction] {
        guard group.state == .preparingRebalance, group.initialDelay == nil, group.allMembersJoined else { return [] }
        return completeJoin(&group, groupID: groupID, now: now)
    }

    /// The next generation, of the members that rejoined: each gets its JoinGroup answer (the
    /// leader with every member's subscription) and is expected to SyncGroup within the
    /// rebalance timeout.
    private func completeJoin(_ group: inout Group, groupID: String, now: NIODeadline) -> [GroupAction] {
        group.joinDeadline = nil
        group.initialDelay = nil
        for member in group.members where !member.awaitingJoin { _ = remove(member.memberID, from: &group, groupID: groupID) }
        group.generationID &+= 1
        guard !group.members.isEmpty else {
            group.state = .empty
            group.protocolName = nil
            group.leaderID = nil
            return []
        }
        group.protocolName = group.selectProtocol()
        group.state = .completingRebalance
        var actions: [GroupAction] = []
        for i in group.members.indices {
            group.members[i].awaitingJoin = false
            group.members[i].sessionDeadline = now + group.members[i].sessionTimeout
            let memberID = group.members[i].memberID
            actions.append(.answerJoin(GroupMemberKey(groupID: groupID, memberID: memberID), group.joinResponse(for: memberID)))
        }
        group.pendingSync = Set(group.members.map(\.memberID))
        group.syncDeadline = now + group.rebalanceTimeout
        return actions
    }

    /// Answers every waiting SyncGroup with the member's assignment (or the error).
    private func propagateAssignment(_ group: inout Group, groupID: String, error: KafkaErrorCode, now: NIODeadline) -> [GroupAction] {
        var actions: [GroupAction] = []
        for i in group.members.indices where group.members[i].awaitingSync {
            group.members[i].awaitingSync = false
            group.members[i].sessionDeadline = now + group.members[i].sessionTimeout
            let response = error == .none
                ? syncResponse(group, group.members[i]) : SyncGroupResponse(errorCode: error, assignment: ByteBuffer())
            actions.append(.answerSync(GroupMemberKey(groupID: groupID, memberID: group.members[i].memberID), response))
        }
        return actions
    }

    private func syncResponse(_ group: Group, _ member: Member) -> SyncGroupResponse {
        SyncGroupResponse(protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment)
    }
}
