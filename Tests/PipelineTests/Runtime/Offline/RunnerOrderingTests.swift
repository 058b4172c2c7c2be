import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// Each guarantee's order of write, sync and acknowledgement, checked on a scripted source and
/// a memory sink: no Postgres, no log, no real time.
@Suite struct RunnerOrderingTests {
    @Test func exactlyOnceAcknowledgesOnlyAfterTheCommitThatHoldsTheTransaction() throws {
        let run = ScriptedRun(guarantee: .exactlyOnce)
        try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a", "b"]))
        #expect(run.trace.steps == [.write("outbox.event.order"), .write("outbox.event.order"), .flush, .commit(OutboxScript.end(10)), .acknowledge(OutboxScript.end(10))])
        #expect(run.sink.checkpoints.map(\.sourceEnd) == [OutboxScript.end(10)])
        #expect(run.sink.visibleKeys == ["a", "b"])
    }

    @Test func atLeastOnceMakesVisibleThenSyncsAndRecordsThePositionThenAcknowledges() throws {
        let run = ScriptedRun(guarantee: .atLeastOnce)
        try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]))
        let end = OutboxScript.end(10)
        #expect(run.trace.steps == [.write("outbox.event.order"), .flush, .sync(end), .acknowledge(end)])
        #expect(run.sink.recorded == end)
        #expect(run.sink.checkpoints.isEmpty)
    }

    @Test func atMostOnceAcknowledgesOnReceiptBeforeAnythingIsWritten() throws {
        let run = ScriptedRun(guarantee: .atMostOnce)
        try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]), extraMilliseconds: 0)
        let end = OutboxScript.end(10)
        // The stop syncs last (the background sync's final round).
        #expect(run.trace.steps == [.write("outbox.event.order"), .acknowledge(end), .sendAcknowledgements, .flush, .sync(nil)])
    }

    @Test func atMostOnceSyncsInTheBackgroundAtItsInterval() throws {
        var run = ScriptedRun(guarantee: .atMostOnce)
        run.settings.backgroundSyncInterval = .milliseconds(300)
        let script = (0..<10).flatMap { OutboxScript.transaction(xid: UInt32(10 + $0), at: Int64($0) * 100, keys: ["k\($0)"]) }
        try run.run(script, extraMilliseconds: 0)
        let syncTimes = run.trace.timed.filter { $0.step == .sync(nil) }.map(\.ms)
        // One sync per 300 ms of the 900 ms the script takes, plus the one at the stop.
        #expect(syncTimes.count == 4, "\(syncTimes)")
        for (earlier, later) in zip(syncTimes, syncTimes.dropFirst()) { #expect(later - earlier >= 300 || later == syncTimes.last) }
    }

    @Test func transactionsTheSinkHoldsAreSkippedAndAcknowledged() throws {
        let run = ScriptedRun(guarantee: .exactlyOnce)
        try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]))
        run.trace.steps = []
        // The source sends from its confirmed position again: transaction 10 once more, then 11.
        let runner = try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 0, keys: ["b"]))
        #expect(runner.progress.skippedTransactions == 1)
        #expect(run.sink.visibleKeys == ["a", "b"])
        #expect(run.trace.steps.first == .acknowledge(OutboxScript.end(10)))
    }

    @Test func aReconnectDropsTheOpenGroupAndTheResentTransactionsLandOnce() throws {
        let run = ScriptedRun(guarantee: .exactlyOnce)
        var script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"])
        script.append((0, .begin(TransactionBegin(xid: 11, commitLSN: LSN(1100), commitTime: PostgresTimestamp(rawValue: 0)))))
        script.append((0, .change(OutboxScript.change(xid: 11, key: "b"))))
        script.append((0, .restarted(resumeFrom: .zero)))
        script += OutboxScript.transaction(xid: 10, at: 1, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 1, keys: ["b"])
        try run.run(script)
        #expect(run.trace.steps.contains(.abort))
        #expect(run.sink.visibleKeys == ["a", "b"])
    }

    @Test func atMostOnceWritesItsGroupOnAReconnectInsteadOfDroppingIt() throws {
        let run = ScriptedRun(guarantee: .atMostOnce)
        // Transactions 10 and 11 are acknowledged on receipt, and the server had the
        // acknowledgement: after the reconnect it sends only what follows.
        var script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 0, keys: ["b"])
        script.append((0, .restarted(resumeFrom: OutboxScript.end(11))))
        script += OutboxScript.transaction(xid: 12, at: 1, keys: ["c"])
        try run.run(script, extraMilliseconds: 0)
        #expect(!run.trace.steps.contains(.abort))
        #expect(run.sink.visibleKeys == ["a", "b", "c"])
    }

    @Test func atMostOnceWritesNothingTwiceWhenTheServerSendsTheGroupAgain() throws {
        let run = ScriptedRun(guarantee: .atMostOnce)
        // The acknowledgement never reached the server: it sends 10 and 11 again; the second
        // reading is skipped, as the sink holds them.
        var script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 0, keys: ["b"])
        script.append((0, .restarted(resumeFrom: .zero)))
        script += OutboxScript.transaction(xid: 10, at: 1, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 1, keys: ["b"])
            + OutboxScript.transaction(xid: 12, at: 1, keys: ["c"])
        let runner = try run.run(script, extraMilliseconds: 0)
        #expect(run.sink.visibleKeys == ["a", "b", "c"])
        #expect(runner.progress.skippedTransactions == 2)
    }

    @Test func atMostOnceKeepsWhatATransactionCutByAReconnectWroteAndNeverWritesItTwice() throws {
        let run = ScriptedRun(guarantee: .atMostOnce)
        var script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"])
        // Transaction 12 is cut after its first change; the server sends it again whole.
        let twelve = OutboxScript.transaction(xid: 12, at: 0, keys: ["c", "d"])
        script += twelve.prefix(2)
        script.append((0, .restarted(resumeFrom: OutboxScript.end(10))))
        script += OutboxScript.transaction(xid: 12, at: 1, keys: ["c", "d"]) + OutboxScript.transaction(xid: 13, at: 1, keys: ["e"])
        let runner = try run.run(script, extraMilliseconds: 0)
        // What it wrote stays; its rest is the loss at_most_once allows; nothing twice.
        #expect(run.sink.visibleKeys == ["a", "c", "e"])
        #expect(runner.progress.skippedTransactions == 1)
    }

    @Test func aStopFinishesTheOpenTransactionThenCommits() throws {
        let run = ScriptedRun(guarantee: .exactlyOnce)
        let script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a", "b", "c"])
        // Stop while transaction 10 is open (after its Begin and first change).
        try run.run(script, stopWhen: { source, _ in source.remaining <= script.count - 2 })
        #expect(run.sink.visibleKeys == ["a", "b", "c"])
        #expect(run.trace.steps.last == .acknowledge(OutboxScript.end(10)))
    }

    @Test func aStopThatTimesOutAbandonsTheOpenTransaction() throws {
        var run = ScriptedRun(guarantee: .exactlyOnce)
        run.settings.drainTimeout = .milliseconds(500)
        var script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"])
        // Transaction 11 begins and never ends within the drain timeout.
        script.append((10, .begin(TransactionBegin(xid: 11, commitLSN: LSN(1100), commitTime: PostgresTimestamp(rawValue: 0)))))
        script.append((10, .change(OutboxScript.change(xid: 11, key: "b"))))
        script += OutboxScript.transaction(xid: 12, at: 5000, keys: ["c"])
        let runner = try run.run(script, stopWhen: { source, _ in source.remaining <= 3 })
        #expect(run.trace.steps.last == .abort)
        #expect(run.sink.visibleKeys == ["a"])
        #expect(runner.progress.durable == OutboxScript.end(10))
    }

    @Test func aStageFailureThatStopsThePipelineNamesTheEventAndCommitsNothingOfItsGroup() throws {
        var run = ScriptedRun(guarantee: .exactlyOnce)
        run.settings.deadLetterOnFailure = false
        // The outbox stage refuses a payload that is not JSON (the column is text here).
        let script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"], payload: "not json")
        let error = try #require(throws: PipelineError.self) { try run.run(script) }
        #expect(error.code == .stageFailed)
        #expect(error.message.contains("stage outbox failed on the event of public.outbox at \(LSN(1000))"))
        #expect(run.sink.visible.isEmpty)
        #expect(!run.trace.steps.contains { if case .acknowledge = $0 { true } else { false } })
    }

    @Test func aFailingEventGoesToTheDeadLettersWithItsGroup() throws {
        let run = ScriptedRun(guarantee: .exactlyOnce)
        let runner = try run.run(OutboxScript.transaction(xid: 10, at: 0, keys: ["a"], payload: "not json") + OutboxScript.transaction(xid: 11, at: 0, keys: ["b"]))
        #expect(runner.progress.deadLetters == 1)
        #expect(run.sink.visible.map(\.record.topicPartition.topic) == ["test.dead-letter", "outbox.event.order"])
    }
}

/// What the runner reports durable in the sink (what outbox cleanup relies on): in at_most_once
/// the acknowledged position runs ahead of it until the background sync.
@Suite struct SinkDurablePositionTests {
    func reports(_ guarantee: DeliveryGuarantee) throws -> (reports: [RunnerProgress], final: RunnerProgress) {
        var run = ScriptedRun(guarantee: guarantee)
        run.settings.backgroundSyncInterval = .milliseconds(300)
        let script = (0..<10).flatMap { OutboxScript.transaction(xid: UInt32(10 + $0), at: Int64($0) * 100, keys: ["k\($0)"]) }
        let source = ScriptedSource(script, clock: run.clock, trace: run.trace)
        let runner = try PipelineRunner(graph: try OutboxScript.graph(), sink: run.sink, settings: run.settings, clock: run.clock)
        var reports: [RunnerProgress] = []
        try runner.run(source: source, shouldStop: { source.remaining == 0 }, report: { reports.append($0) })
        return (reports, runner.progress)
    }

    @Test func atMostOnceReportsTheSinksDurablePositionBehindTheAcknowledgedOne() throws {
        let (reports, final) = try reports(.atMostOnce)
        #expect(reports.allSatisfy { $0.sinkDurable <= $0.durable })
        #expect(reports.contains { $0.sinkDurable < $0.durable }, "acknowledged on receipt, synced later")
        #expect(reports.contains { $0.sinkDurable > .zero && $0.sinkDurable < final.durable }, "the background sync moves it")
        #expect(final.sinkDurable == final.durable, "the stop syncs")
        // Cleanup does not take the source's flush position while the sink is behind.
        let behind = try #require(reports.first { $0.sinkDurable < $0.durable })
        #expect(SinkDurablePosition.durable(behind, sourceFlush: LSN(.max)) == behind.sinkDurable)
        #expect(SinkDurablePosition.durable(final, sourceFlush: LSN(.max)) == LSN(.max))
    }

    @Test func exactlyOnceReportsTheCommittedPosition() throws {
        let (reports, final) = try reports(.exactlyOnce)
        #expect(reports.allSatisfy { $0.sinkDurable == $0.durable })
        #expect(final.sinkDurable == OutboxScript.end(19))
    }
}
