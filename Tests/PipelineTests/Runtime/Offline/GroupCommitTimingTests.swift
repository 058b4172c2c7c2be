import PGOutput
@testable import Pipeline
import PostgresSource
import Testing

/// When groups commit, on a manual clock: the figures are exact, whatever the machine's load.
@Suite struct GroupCommitTimingTests {
    func commitTimes(_ run: ScriptedRun) -> [Int64] {
        run.trace.timed.compactMap { if case .commit = $0.step { $0.ms } else { nil } }
    }

    @Test func aTransactionAfterAQuietSpellCommitsAtOnce() throws {
        let run = ScriptedRun()
        try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 1000, keys: ["b"]))
        #expect(commitTimes(run) == [0, 1000])
    }

    @Test func transactionsArrivingWithinTheSpacingShareOneCommit() throws {
        var run = ScriptedRun()
        run.settings.commitSpacing = .milliseconds(5)
        // One commit at 0 ms; then five transactions 1 ms apart, inside the next 5 ms.
        let script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"])
            + (1...5).flatMap { OutboxScript.transaction(xid: UInt32(10 + $0), at: Int64($0), keys: ["k\($0)"]) }
        try run.run(script)
        #expect(commitTimes(run) == [0, 5])
        #expect(run.sink.checkpoints.map(\.sourceEnd) == [OutboxScript.end(10), OutboxScript.end(15)])
    }

    @Test func aStreamThatNeverPausesCommitsAtTheGroupsMaximumLatency() throws {
        var run = ScriptedRun()
        run.settings.commitSpacing = .milliseconds(5)
        run.settings.groupMaxLatency = .milliseconds(100)
        // 350 transactions available at once, each taking 1 ms to read (three events): the
        // stream never pauses, so only the latency bound commits.
        let script = (0..<350).flatMap { OutboxScript.transaction(xid: UInt32(10 + $0), at: 0, keys: ["k"]) }
        try run.run(script, extraMilliseconds: 0, readCost: .microseconds(333))
        let times = commitTimes(run)
        // The first group began at 0 ms; each later one began just after a commit, and may
        // commit from 5 ms (the spacing) after that commit: latency counts from then.
        #expect(times.first == 100)
        #expect(times.dropLast().count >= 2)
        // Commits fall between transactions, which take 1 ms each.
        for (earlier, later) in zip(times.dropLast(), times.dropFirst().dropLast()) { #expect((105...106).contains(later - earlier), "\(times)") }
        #expect(run.sink.visible.count == 350)
    }

    @Test func aGroupCommitsAtItsMaximumSize() throws {
        var run = ScriptedRun()
        run.settings.groupMaxBytes = 1000
        run.settings.groupMaxLatency = .seconds(60)
        let payload = "\"" + String(repeating: "x", count: 300) + "\""
        let script = (0..<10).flatMap { OutboxScript.transaction(xid: UInt32(10 + $0), at: 10, keys: ["k"], payload: payload) }
        try run.run(script)
        // Every record is the same size: a group commits with the transaction that takes it to 1000 bytes.
        let recordSize = try #require(run.sink.visible.first?.record.bodyPrefix.count)
        let perGroup = UInt32((1000 + recordSize - 1) / recordSize)
        #expect(perGroup > 1)
        #expect(run.sink.checkpoints.map(\.sourceEnd).prefix(2) == [OutboxScript.end(10 + perGroup - 1), OutboxScript.end(10 + 2 * perGroup - 1)])
    }

    @Test func atLeastOnceShowsRecordsBeforeItsSpacedSync() throws {
        var run = ScriptedRun(guarantee: .atLeastOnce)
        run.settings.commitSpacing = .milliseconds(50)
        run.settings.visibilityInterval = .milliseconds(5)
        try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 10, keys: ["b"]))
        let flushes = run.trace.timed.filter { $0.step == .flush }.map(\.ms)
        let syncs = run.trace.timed.filter { if case .sync = $0.step { true } else { false } }.map(\.ms)
        // Transaction 11 is visible when it arrives (10 ms), durable once the 50 ms spacing after
        // the first sync (0 ms) has passed.
        #expect(flushes == [0, 10])
        #expect(syncs == [0, 50])
    }

    @Test func theScheduleWaitsOutTheSpacingAsleepOnlyWhenNothingIsVisibleBeforeTheCommit() {
        let start = ContinuousClock.now
        var exactlyOnce = GroupCommitSchedule(settings: .init(spacing: .milliseconds(5), sleepsThroughSpacing: true), now: start)
        exactlyOnce.commitStarted(now: start)
        exactlyOnce.groupEnded()
        exactlyOnce.transactionBegan(now: start.advanced(by: .milliseconds(1)))
        _ = exactlyOnce.transactionCompleted(now: start.advanced(by: .milliseconds(1)))
        #expect(exactlyOnce.wait(now: start.advanced(by: .milliseconds(1)), inTransaction: false) == .init(sleep: .milliseconds(4), readTimeout: .zero))
        #expect(exactlyOnce.wait(now: start.advanced(by: .milliseconds(1)), inTransaction: true) == .init(sleep: .zero, readTimeout: .milliseconds(200)))

        var atLeastOnce = GroupCommitSchedule(settings: .init(spacing: .milliseconds(5), sleepsThroughSpacing: false, visibilityInterval: .milliseconds(5)), now: start)
        atLeastOnce.commitStarted(now: start)
        atLeastOnce.groupEnded()
        _ = atLeastOnce.transactionCompleted(now: start.advanced(by: .milliseconds(1)))
        #expect(atLeastOnce.wait(now: start.advanced(by: .milliseconds(1)), inTransaction: false) == .init(sleep: .zero, readTimeout: .milliseconds(4)))
        #expect(atLeastOnce.idle(now: start.advanced(by: .milliseconds(2)), inTransaction: false) == .makeVisible)
        #expect(atLeastOnce.idle(now: start.advanced(by: .milliseconds(5)), inTransaction: false) == .commit)
    }
}
