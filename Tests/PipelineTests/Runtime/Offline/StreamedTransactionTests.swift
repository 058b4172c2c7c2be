import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// A transaction the source streams while it is open reaches the sink at its Stream Commit,
/// as the same records it would have made arriving whole; a rolled-back subtransaction's
/// changes never do. Server-less: the scripted source sends the stream messages.
@Suite struct StreamedTransactionTests {
    /// Transaction `xid` streamed in two chunks, interleaved with the whole transaction 20; the
    /// second chunk's changes belong to subtransaction `xid + 1`.
    func streamedScript(xid: UInt32, keys: [String], abortSubtransaction: Bool) -> [(at: Int64, event: SourceEvent)] {
        let half = keys.count / 2
        let time = PostgresTimestamp(rawValue: Int64(xid) * 1000)
        var script: [(at: Int64, event: SourceEvent)] = [(0, .streamStart(xid: xid, firstSegment: true))]
        for (sequence, key) in keys.prefix(half).enumerated() { script.append((0, .change(OutboxScript.change(xid: xid, sequence: sequence, key: key)))) }
        script.append((0, .streamStop))
        script += OutboxScript.transaction(xid: 20, at: 1, keys: ["between"])
        script.append((2, .streamStart(xid: xid, firstSegment: false)))
        for (index, key) in keys.dropFirst(half).enumerated() {
            script.append((2, .change(OutboxScript.change(xid: xid + 1, sequence: half + index, key: key))))
        }
        script.append((2, .streamStop))
        if abortSubtransaction { script.append((3, .streamAbort(xid: xid, subtransactionXID: xid + 1))) }
        let commit = TransactionCommit(xid: xid, commitLSN: LSN(UInt64(xid) * 100), endLSN: OutboxScript.end(xid), commitTime: time)
        script.append((4, .streamCommit(commit)))
        return script
    }

    @Test(arguments: [false, true])
    func aStreamedTransactionLandsAtItsCommitAsTheWholeTransactionWould(dedupe: Bool) throws {
        let graph = { try OutboxScript.graph(dedupeKey: dedupe ? "aggregateid" : nil) }
        let keys = ["s1", "s2", "s3", "s4"]
        let whole = ScriptedRun()
        try whole.run(OutboxScript.transaction(xid: 20, at: 1, keys: ["between"]) + OutboxScript.transaction(xid: 30, at: 4, keys: keys), graph: graph())
        let streamed = ScriptedRun()
        let runner = try streamed.run(streamedScript(xid: 30, keys: keys, abortSubtransaction: false), graph: graph())
        // A dedupe stage keeps state, so the changes are staged at the commit; otherwise as they arrive.
        #expect(runner.stagesStreamedChanges == !dedupe)
        #expect(runner.progress.streamedTransactions == 1)
        #expect(streamed.sink.visibleKeys == ["between"] + keys)
        #expect(streamed.sink.visible.map(\.record) == whole.sink.visible.map(\.record))
        #expect(streamed.sink.visible.map(\.commit) == whole.sink.visible.map(\.commit))
    }

    @Test(arguments: [false, true])
    func aRolledBackSubtransactionOfAStreamedTransactionNeverLands(dedupe: Bool) throws {
        let run = ScriptedRun()
        try run.run(streamedScript(xid: 30, keys: ["s1", "s2", "s3", "s4"], abortSubtransaction: true), graph: OutboxScript.graph(dedupeKey: dedupe ? "aggregateid" : nil))
        #expect(run.sink.visibleKeys == ["between", "s1", "s2"])
    }

    @Test func aStageFailureInARolledBackSubtransactionDoesNotStopThePipeline() throws {
        var run = ScriptedRun()
        run.settings.deadLetterOnFailure = false
        var script = streamedScript(xid: 30, keys: ["s1", "s2"], abortSubtransaction: true)
        // The rolled-back subtransaction's change has a payload the outbox stage refuses.
        let bad = OutboxScript.change(xid: 31, sequence: 1, key: "bad", payload: "not json")
        let index = try #require(script.firstIndex { if case .change(let change) = $0.event { change.xid == 31 } else { false } })
        script[index] = (2, .change(bad))
        try run.run(script)
        #expect(run.sink.visibleKeys == ["between", "s1"])
    }
}

@Suite struct SpoolProgressTests {
    @Test func progressReportsTheOpenSpoolAndItsEnd() throws {
        let run = ScriptedRun()
        let script = StreamedTransactionTests().streamedScript(xid: 30, keys: ["s1", "s2"], abortSubtransaction: false)
        let source = ScriptedSource(script, clock: run.clock, trace: run.trace)
        let runner = try PipelineRunner(graph: try OutboxScript.graph(), sink: run.sink, settings: run.settings, clock: run.clock)
        var spooled: [Int] = []
        try runner.run(source: source, shouldStop: { source.remaining == 0 }, report: { spooled.append($0.spooledTransactions) })
        // While transaction 30 streams, a report sees its spool; once it committed, none is left.
        #expect(spooled.contains(1), "\(spooled)")
        #expect(spooled.last == 0)
    }
}
