import KafkaProtocol
import Logging
import NIOCore
import Synchronization

/// The `GroupCoordinator` at the edge: the JoinGroup and SyncGroup requests that wait for a
/// rebalance (their connections answer nothing else meanwhile, as Kafka's rule of in-order
/// answers wants), and one timer set to the coordinator's next deadline.
///
/// Connections on any event loop call in; the state is behind a lock, and waiting requests are
/// answered after it is released.
final class GroupMembership: Sendable {
    private struct Waiting: Sendable {
        var header: RequestHeader
        var promise: EventLoopPromise<Reply>
    }

    private struct State: Sendable {
        var coordinator: GroupCoordinator
        var joins: [GroupMemberKey: Waiting] = [:]
        var syncs: [GroupMemberKey: Waiting] = [:]
        var timer: Scheduled<Void>?
        var timerDeadline: NIODeadline?
        var stopped = false
    }

    private let state: Mutex<State>
    private let timerLoop: any EventLoop
    private let logger: Logger

    init(settings: GroupCoordinator.Settings, timerLoop: any EventLoop, logger: Logger) {
        var tag = ""
        for _ in 0..<8 { tag.append(String(UInt8.random(in: 0...15), radix: 16)) }
        state = Mutex(State(coordinator: GroupCoordinator(settings: settings, runTag: tag)))
        self.timerLoop = timerLoop
        self.logger = logger
    }

    private typealias Completion = (promise: EventLoopPromise<Reply>, reply: Reply)

    func join(_ request: JoinGroupRequest, header: RequestHeader, clientHost: String, on eventLoop: any EventLoop) -> EventLoopFuture<Reply> {
        let promise = eventLoop.makePromise(of: Reply.self)
        let completions = state.withLock { state -> [Completion] in
            guard !state.stopped else { return [(promise, .close(reason: "shutting down"))] }
            let (reply, actions) = state.coordinator.join(
                request, version: header.apiVersion, clientID: header.clientID ?? "", clientHost: clientHost, now: .now())
            var completions: [Completion] = []
            switch reply {
            case .now(let response):
                completions.append((promise, Self.frame(response, header)))
            case .later(let key):
                // The same member joining again from another connection: the first request
                // is answered so that it is not left waiting for ever.
                if let replaced = state.joins.updateValue(Waiting(header: header, promise: promise), forKey: key) {
                    let refusal = JoinGroupResponse(errorCode: .rebalanceInProgress, protocolName: nil, leader: "", memberID: key.memberID)
                    completions.append((replaced.promise, Self.frame(refusal, replaced.header)))
                }
            }
            completions += take(actions, from: &state)
            rearm(&state)
            return completions
        }
        log(request.groupID, "join", header)
        Self.complete(completions)
        return promise.futureResult
    }

    func sync(_ request: SyncGroupRequest, header: RequestHeader, on eventLoop: any EventLoop) -> EventLoopFuture<Reply> {
        let promise = eventLoop.makePromise(of: Reply.self)
        let completions = state.withLock { state -> [Completion] in
            guard !state.stopped else { return [(promise, .close(reason: "shutting down"))] }
            let (reply, actions) = state.coordinator.sync(request, now: .now())
            var completions: [Completion] = []
            switch reply {
            case .now(let response):
                completions.append((promise, Self.frame(response, header)))
            case .later(let key):
                if let replaced = state.syncs.updateValue(Waiting(header: header, promise: promise), forKey: key) {
                    completions.append((replaced.promise, Self.frame(SyncGroupResponse(errorCode: .rebalanceInProgress, assignment: ByteBuffer()), replaced.header)))
                }
            }
            completions += take(actions, from: &state)
            rearm(&state)
            return completions
        }
        Self.complete(completions)
        return promise.futureResult
    }

    func heartbeat(_ request: HeartbeatRequest, header: RequestHeader) -> Reply {
        let error = state.withLock { state in
            let error = state.coordinator.heartbeat(request, now: .now())
            rearm(&state)
            return error
        }
        return Self.frame(HeartbeatResponse(errorCode: error), header)
    }

    func leave(_ request: LeaveGroupRequest, header: RequestHeader) -> Reply {
        let (response, completions) = state.withLock { state -> (LeaveGroupResponse, [Completion]) in
            let (response, actions) = state.coordinator.leave(request, now: .now())
            let completions = take(actions, from: &state)
            rearm(&state)
            return (response, completions)
        }
        log(request.groupID, "leave", header)
        Self.complete(completions)
        return Self.frame(response, header)
    }

    func offsetCommitError(_ request: OffsetCommitRequest) -> KafkaErrorCode? {
        state.withLock {
            $0.coordinator.offsetCommitError(
                groupID: request.groupID, generationID: request.generationID, memberID: request.memberID, groupInstanceID: request.groupInstanceID)
        }
    }

    func describe(_ groupID: String) -> DescribeGroupsResponse.Group? {
        state.withLock { $0.coordinator.describe(groupID) }
    }

    var listing: [(groupID: String, protocolType: String, state: GroupCoordinator.State)] {
        state.withLock { $0.coordinator.listing }
    }

    /// Answers every waiting request (their connections close: the endpoint is going away)
    /// and stops the timer.
    func stop() {
        let completions = state.withLock { state -> [Completion] in
            state.stopped = true
            state.timer?.cancel()
            state.timer = nil
            let waiting = Array(state.joins.values) + Array(state.syncs.values)
            state.joins = [:]
            state.syncs = [:]
            return waiting.map { ($0.promise, .close(reason: "shutting down")) }
        }
        Self.complete(completions)
    }

    // MARK: Internals

    private func expire() {
        let completions = state.withLock { state -> [Completion] in
            state.timer = nil
            state.timerDeadline = nil
            guard !state.stopped else { return [] }
            let completions = take(state.coordinator.expire(now: .now()), from: &state)
            rearm(&state)
            return completions
        }
        Self.complete(completions)
    }

    /// The waiting requests the actions answer, taken out of the waiting sets.
    private func take(_ actions: [GroupAction], from state: inout State) -> [Completion] {
        actions.compactMap { action in
            switch action {
            case .answerJoin(let key, let response):
                guard let waiting = state.joins.removeValue(forKey: key) else { return nil }
                if response.errorCode != .none {
                    logger.info("a consumer group member's join was refused", metadata: [
                        "kafka.group": "\(key.groupID)", "kafka.member": "\(key.memberID)", "kafka.error": "\(response.errorCode)",
                    ])
                } else if response.leader == key.memberID {
                    logger.info("consumer group rebalanced", metadata: [
                        "kafka.group": "\(key.groupID)", "kafka.generation": "\(response.generationID)", "kafka.members": "\(response.members.count)",
                        "kafka.protocol": "\(response.protocolName ?? "")",
                    ])
                }
                return (waiting.promise, Self.frame(response, waiting.header))
            case .answerSync(let key, let response):
                guard let waiting = state.syncs.removeValue(forKey: key) else { return nil }
                return (waiting.promise, Self.frame(response, waiting.header))
            }
        }
    }

    /// Sets the timer to the coordinator's next deadline when that is sooner than the one set.
    private func rearm(_ state: inout State) {
        guard !state.stopped, let next = state.coordinator.nextDeadline else { return }
        if let set = state.timerDeadline, set <= next { return }
        state.timer?.cancel()
        state.timerDeadline = next
        state.timer = timerLoop.scheduleTask(deadline: next) { [weak self] in self?.expire() }
    }

    private func log(_ groupID: String, _ what: String, _ header: RequestHeader) {
        logger.debug("consumer group \(what)", metadata: ["kafka.group": "\(groupID)", "kafka.client_id": "\(header.clientID ?? "")"])
    }

    private static func frame<Response: KafkaResponseMessage>(_ response: Response, _ header: RequestHeader) -> Reply {
        .frame(KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID))
    }

    private static func complete(_ completions: [Completion]) {
        for (promise, reply) in completions { promise.succeed(reply) }
    }
}
