import CoreMetrics
import Foundation
import MetricsTestKit
import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// The metrics follow the runner's progress reports: counters move by what changed, gauges
/// show the positions and the lag.
@Suite struct PipelineMetricsTests {
    @Test func countersFollowTheRunnersProgressAsItReportsIt() throws {
        let factory = TestMetrics()
        let metrics = PipelineMetrics(factory: factory)
        let run = ScriptedRun()
        let script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a", "b"])
            + OutboxScript.transaction(xid: 11, at: 50, keys: ["bad"], payload: "not json")
            + OutboxScript.transaction(xid: 12, at: 100, keys: ["c"])
        let source = ScriptedSource(script, clock: run.clock, trace: run.trace)
        let runner = try PipelineRunner(graph: try OutboxScript.graph(), sink: run.sink, settings: run.settings, clock: run.clock)
        var reports = 0
        try runner.run(source: source, shouldStop: { source.remaining == 0 }, report: { progress in
            reports += 1
            metrics.observe(progress, serverWAL: OutboxScript.end(12), now: 0)
        })
        #expect(reports > 1)
        #expect(try factory.expectCounter("outflow_source_transactions_total").totalValue == 3)
        #expect(try factory.expectCounter("outflow_source_events_total").totalValue == 4)
        #expect(try factory.expectCounter("outflow_sink_records_total").totalValue == 3)
        #expect(try factory.expectCounter("outflow_dead_letters_total").totalValue == 1)
        #expect(try factory.expectCounter("outflow_sink_commits_total").totalValue == Int64(runner.progress.logCommits))
        #expect(try factory.expectTimer("outflow_sink_commit_duration_seconds").values.count == runner.progress.logCommits)
        #expect(try factory.expectGauge("outflow_source_durable_lsn_bytes").lastValue == Double(OutboxScript.end(12).rawValue))
        // Everything the server has is durable: no lag.
        #expect(try factory.expectGauge("outflow_replication_lag_bytes").lastValue == 0)
        #expect(try factory.expectGauge("outflow_replication_lag_seconds").lastValue == 0)
    }

    @Test func stageCountersAndDedupeHitsFollowTheGraph() throws {
        let factory = TestMetrics()
        let metrics = PipelineMetrics(factory: factory)
        let run = ScriptedRun()
        let graph = try OutboxScript.graph(dedupeKey: "aggregateid")
        // Three transactions, two with the same aggregate id: the dedupe stage drops one.
        let script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 10, keys: ["a"])
            + OutboxScript.transaction(xid: 12, at: 20, keys: ["b"], payload: "not json")
        let source = ScriptedSource(script, clock: run.clock, trace: run.trace)
        let runner = try PipelineRunner(graph: graph, sink: run.sink, settings: run.settings, clock: run.clock)
        try runner.run(source: source, shouldStop: { source.remaining == 0 }, report: { _ in metrics.observe(stages: graph.counts) })
        metrics.observe(stages: graph.counts)
        let outbox = [("stage", "outbox")], dedupe = [("stage", "dedupe")]
        #expect(try factory.expectCounter("outflow_stage_events_in_total", outbox).totalValue == 3)
        #expect(try factory.expectCounter("outflow_stage_events_out_total", outbox).totalValue == 2)
        #expect(try factory.expectCounter("outflow_stage_failures_total", outbox).totalValue == 1)
        #expect(try factory.expectCounter("outflow_stage_events_in_total", dedupe).totalValue == 2)
        #expect(try factory.expectCounter("outflow_stage_events_out_total", dedupe).totalValue == 1)
        #expect(try factory.expectCounter("outflow_dedupe_hits_total", dedupe).totalValue == 1)
        #expect(try factory.expectGauge("outflow_dedupe_window_keys", dedupe).lastValue == 1)
        #expect(try factory.expectCounter("outflow_dedupe_forgotten_keys_total", dedupe).totalValue == 0)
        // The newest table's 1024 slots of 16 bytes; on disk, its journal: a header and one key.
        #expect(try factory.expectGauge("outflow_dedupe_state_memory_bytes", dedupe).lastValue == 16 * 1024)
        #expect(try factory.expectGauge("outflow_dedupe_state_disk_bytes", dedupe).lastValue == 32 + 16)
    }

    @Test func keysForgottenAtABoundAreCounted() throws {
        let factory = TestMetrics()
        let metrics = PipelineMetrics(factory: factory)
        let run = ScriptedRun()
        let outbox = OutboxStage(id: "outbox", config: OutboxStageConfig(table: TableName(schema: "public", name: "outbox"), topic: try EventTemplate.parse("outbox.event.${aggregatetype}")))
        let dedupe = DedupeStage(id: "dedupe", key: try EventExpression.parse("aggregateid"), windowMilliseconds: 86_400_000, maximumEntries: 2)
        let graph = try CompiledStageGraph(
            stages: [outbox, dedupe], wiring: [.init(stageID: "outbox", inputs: [CompiledStageGraph.sourceInput]), .init(stageID: "dedupe", inputs: ["outbox"])])
        let script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a"]) + OutboxScript.transaction(xid: 11, at: 10, keys: ["b"])
            + OutboxScript.transaction(xid: 12, at: 20, keys: ["c"]) + OutboxScript.transaction(xid: 13, at: 30, keys: ["a"])
        let source = ScriptedSource(script, clock: run.clock, trace: run.trace)
        let runner = try PipelineRunner(graph: graph, sink: run.sink, settings: run.settings, clock: run.clock)
        try runner.run(source: source, shouldStop: { source.remaining == 0 }, report: { _ in metrics.observe(stages: graph.counts) })
        metrics.observe(stages: graph.counts)
        // Past two keys the oldest is forgotten: "a" passes again, and the count says so.
        #expect(try factory.expectCounter("outflow_dedupe_forgotten_keys_total", [("stage", "dedupe")]).totalValue == 2)
        #expect(try factory.expectCounter("outflow_dedupe_hits_total", [("stage", "dedupe")]).totalValue == 0)
    }

    @Test func lagIsWhatTheServerHasBeyondWhatIsDurable() throws {
        let factory = TestMetrics()
        let metrics = PipelineMetrics(factory: factory)
        var progress = RunnerProgress()
        progress.durable = LSN(1_000)
        progress.received = LSN(5_000)
        // Committed in the source at Unix time 100 s; now is 130 s.
        progress.durableCommitTime = PostgresTimestamp(unixMicroseconds: 100_000_000)
        metrics.observe(progress, serverWAL: LSN(9_000), now: 130)
        #expect(try factory.expectGauge("outflow_replication_lag_bytes").lastValue == 8_000)
        #expect(try factory.expectGauge("outflow_replication_lag_seconds").lastValue == 30)
        #expect(try factory.expectGauge("outflow_last_durable_commit_timestamp_seconds").lastValue == 100)
        // A second report with no change moves no counter.
        metrics.observe(progress, serverWAL: LSN(9_000), now: 131)
        #expect(try factory.expectCounter("outflow_source_transactions_total").totalValue == 0)
    }

    @Test func sourceBytesCountWhatArrivedAndTheLastCommitsArrivalIsKept() throws {
        let factory = TestMetrics()
        let metrics = PipelineMetrics(factory: factory)
        var progress = RunnerProgress()
        progress.received = LSN(100)
        metrics.observe(progress, serverWAL: nil, sourceBytes: 4_096, now: 50)
        // Only bytes arrive (keepalives): the last commit's arrival stays where it was.
        metrics.observe(progress, serverWAL: nil, sourceBytes: 4_200, now: 60)
        #expect(try factory.expectCounter("outflow_source_bytes_total").totalValue == 4_200)
        #expect(try factory.expectGauge("outflow_source_last_commit_received_timestamp_seconds").lastValue == 50)
        progress.received = LSN(200)
        metrics.observe(progress, serverWAL: nil, sourceBytes: 9_000, now: 70)
        #expect(try factory.expectCounter("outflow_source_bytes_total").totalValue == 9_000)
        #expect(try factory.expectGauge("outflow_source_last_commit_received_timestamp_seconds").lastValue == 70)
    }

    @Test func everyFsyncPhaseOfTheLogIsTimed() throws {
        let factory = TestMetrics()
        let metrics = PipelineMetrics(factory: factory)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-fsync-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try LogWriter.open(directory: directory)
        defer { writer.close() }
        writer.fsyncObserver = { metrics.observeFsync($0) }
        try writer.beginTransaction()
        try writer.append([Record(key: Array("k".utf8), value: Array("v".utf8), timestamp: 0)], to: TopicPartition(topic: "t", partition: 0))
        try writer.commit(metadata: [])
        // A commit: its data files, then its commit record.
        #expect(try factory.expectTimer("outflow_log_fsync_duration_seconds").values.count == 2)
        try writer.sync()
        #expect(try factory.expectTimer("outflow_log_fsync_duration_seconds").values.count == 3)
    }

    @Test func readinessFollowsThePhaseAndStallsWithoutProgress() {
        let health = PipelineHealth(stallAfter: .seconds(5))
        let start = ContinuousClock.now
        #expect(health.readiness(at: start).ready == false)
        health.progressed(at: start)
        #expect(health.readiness(at: start.advanced(by: .seconds(1))) == (true, "streaming"))
        let stalled = health.readiness(at: start.advanced(by: .seconds(6)))
        #expect(!stalled.ready && stalled.reason.hasPrefix("stalled"))
        health.progressed(at: start.advanced(by: .seconds(6)))
        #expect(health.readiness(at: start.advanced(by: .seconds(7))).ready)
        health.set(.failed("replication failed"))
        #expect(health.readiness(at: start.advanced(by: .seconds(7))) == (false, "failed: replication failed"))
    }
}
