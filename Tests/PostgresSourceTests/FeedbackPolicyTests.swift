import PGOutput
import PostgresSource
import Testing

@Suite struct FeedbackPolicyTests {
    let start = ContinuousClock.now

    @Test func theFlushPositionIsWhatTheSinkMadeDurable() {
        var policy = FeedbackPolicy(statusInterval: .seconds(10))
        policy.noteReceived(walEnd: LSN(500))
        policy.noteHandedOver(commitEnd: LSN(400))
        #expect(policy.flushPosition == .zero)
        policy.noteDurable(LSN(400))
        #expect(policy.flushPosition == LSN(400))
        policy.noteDurable(LSN(300))  // never backwards
        #expect(policy.flushPosition == LSN(400))
        let update = policy.statusUpdate(at: start, clock: PostgresTimestamp(rawValue: 1))
        #expect(update?.flushed == LSN(400))
        #expect(update?.written == LSN(500))
    }

    @Test func aKeepaliveWhileIdleAndDurableMayBeAcknowledged() {
        var policy = FeedbackPolicy()
        policy.noteHandedOver(commitEnd: LSN(100))
        // In flight (handed over, not durable): the keepalive's WAL end must not be acknowledged.
        policy.noteKeepalive(walEnd: LSN(900), replyRequested: false, idle: true)
        #expect(policy.flushPosition == .zero)
        policy.noteReceived(walEnd: LSN(920))  // the next transaction begins
        policy.noteDurable(LSN(100))
        #expect(policy.flushPosition == LSN(100))
        // Inside a transaction: not either.
        policy.noteKeepalive(walEnd: LSN(950), replyRequested: false, idle: false)
        #expect(policy.flushPosition == LSN(100))
        policy.noteKeepalive(walEnd: LSN(1000), replyRequested: false, idle: true)
        #expect(policy.flushPosition == LSN(1000))
    }

    @Test func anIdleKeepaliveThatArrivedBeforeTheSinkCaughtUpIsAcknowledgedOnceItHas() {
        // The walsender pings once when it has caught up; the commit before it is still being
        // written. When it is durable, the ping's WAL end is safe: nothing arrived in between.
        var policy = FeedbackPolicy()
        policy.noteReceived(walEnd: LSN(100))
        policy.noteHandedOver(commitEnd: LSN(120))
        policy.noteKeepalive(walEnd: LSN(900), replyRequested: false, idle: true)
        #expect(policy.flushPosition == .zero)
        policy.noteDurable(LSN(120))
        #expect(policy.flushPosition == LSN(900))
    }

    @Test func statusIsSentOnTheIntervalAtOnceWhenAskedAndPromptlyForNewDurablePositions() {
        var policy = FeedbackPolicy(statusInterval: .seconds(10))
        let clock = PostgresTimestamp(rawValue: 0)
        #expect(policy.statusUpdate(at: start, clock: clock) != nil)  // the first one at once
        #expect(policy.statusUpdate(at: start.advanced(by: .seconds(1)), clock: clock) == nil)
        #expect(policy.statusUpdate(at: start.advanced(by: .seconds(10)), clock: clock) != nil)

        policy.noteKeepalive(walEnd: LSN(5), replyRequested: true, idle: false)
        #expect(policy.nextStatusDue(after: start.advanced(by: .seconds(11))) == start.advanced(by: .seconds(11)))
        #expect(policy.statusUpdate(at: start.advanced(by: .seconds(11)), clock: clock)?.flushed == .zero)

        policy.noteDurable(LSN(70))
        let due = policy.nextStatusDue(after: start.advanced(by: .seconds(11)))
        #expect(due < start.advanced(by: .seconds(12)))
        #expect(policy.statusUpdate(at: due, clock: clock)?.flushed == LSN(70))
    }
}
