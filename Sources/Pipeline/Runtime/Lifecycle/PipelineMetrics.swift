import CoreMetrics
import PGOutput
import PostgresSource

/// The pipeline's metrics, through the swift-metrics facade (the process picks the backend:
/// Prometheus in `outflow run`). Fed from the runner's progress reports, which come after every
/// group commit and at every pause, so the hot path pays nothing per event: counters move by
/// what changed since the last report.
///
/// Names and units follow Prometheus' conventions; LSNs are byte positions in the WAL.
public final class PipelineMetrics {
    let sourceTransactions: Counter
    let skippedTransactions: Counter
    let streamedTransactions: Counter
    let sourceEvents: Counter
    let records: Counter
    let deadLetters: Counter
    let sinkCommits: Counter
    let commitDuration: Timer
    let fsyncDuration: Timer
    let sourceBytes: Counter
    let lastCommitReceivedTime: Gauge
    let durableLSN: Gauge
    let receivedLSN: Gauge
    let serverWALLSN: Gauge
    let lagBytes: Gauge
    let lagSeconds: Gauge
    let lastDurableCommitTime: Gauge
    let spooledTransactions: Gauge
    let spoolBytes: Gauge
    private var last = RunnerProgress()
    private var lastSourceBytes = 0
    private let factory: any MetricsFactory
    /// Per stage: its counters (made on first sight) and the values last reported.
    private var stageMetrics: [String: (events: (in: Counter, out: Counter, failed: Counter), hits: Counter, window: Gauge, last: StageCounts)] = [:]
    /// An exact dedupe's state: keys forgotten before their window ended, memory and disk taken.
    private var dedupeStateMetrics: [String: (forgotten: Counter, memory: Gauge, disk: Gauge, lastForgotten: Int)] = [:]

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        sourceTransactions = Counter(label: "outflow_source_transactions_total", factory: factory)
        skippedTransactions = Counter(label: "outflow_source_skipped_transactions_total", factory: factory)
        streamedTransactions = Counter(label: "outflow_source_streamed_transactions_total", factory: factory)
        sourceEvents = Counter(label: "outflow_source_events_total", factory: factory)
        records = Counter(label: "outflow_sink_records_total", factory: factory)
        deadLetters = Counter(label: "outflow_dead_letters_total", factory: factory)
        sinkCommits = Counter(label: "outflow_sink_commits_total", factory: factory)
        commitDuration = Timer(label: "outflow_sink_commit_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        fsyncDuration = Timer(label: "outflow_log_fsync_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        sourceBytes = Counter(label: "outflow_source_bytes_total", factory: factory)
        lastCommitReceivedTime = Gauge(label: "outflow_source_last_commit_received_timestamp_seconds", factory: factory)
        durableLSN = Gauge(label: "outflow_source_durable_lsn_bytes", factory: factory)
        receivedLSN = Gauge(label: "outflow_source_received_lsn_bytes", factory: factory)
        serverWALLSN = Gauge(label: "outflow_source_server_wal_lsn_bytes", factory: factory)
        lagBytes = Gauge(label: "outflow_replication_lag_bytes", factory: factory)
        lagSeconds = Gauge(label: "outflow_replication_lag_seconds", factory: factory)
        lastDurableCommitTime = Gauge(label: "outflow_last_durable_commit_timestamp_seconds", factory: factory)
        spooledTransactions = Gauge(label: "outflow_spool_transactions", factory: factory)
        spoolBytes = Gauge(label: "outflow_spool_bytes", factory: factory)
    }

    /// One fsync phase of the log (`LogWriter.fsyncObserver`).
    public func observeFsync(_ duration: Duration) {
        fsyncDuration.recordNanoseconds(duration.nanoseconds)
    }

    /// Moves the metrics to `progress`. `serverWAL` is the newest WAL position the server has
    /// reported (its keepalives and data carry it), when known; `sourceBytes` the bytes the
    /// source has received in all; `now` is Unix time in seconds.
    public func observe(_ progress: RunnerProgress, serverWAL: LSN?, sourceBytes bytes: Int = 0, now: Double) {
        func advance(_ counter: Counter, _ value: Int, _ previous: Int) { if value > previous { counter.increment(by: Int64(value - previous)) } }
        advance(sourceTransactions, progress.sourceTransactions, last.sourceTransactions)
        advance(skippedTransactions, progress.skippedTransactions, last.skippedTransactions)
        advance(streamedTransactions, progress.streamedTransactions, last.streamedTransactions)
        advance(sourceEvents, progress.events, last.events)
        advance(records, progress.records, last.records)
        advance(deadLetters, progress.deadLetters, last.deadLetters)
        advance(sinkCommits, progress.logCommits, last.logCommits)
        if progress.logCommits > last.logCommits, let duration = progress.lastCommitDuration {
            commitDuration.recordNanoseconds(duration.nanoseconds)
        }
        if bytes > lastSourceBytes { sourceBytes.increment(by: Int64(bytes - lastSourceBytes)) }
        lastSourceBytes = max(lastSourceBytes, bytes)
        // A new Commit arrived since the last report: its arrival is "now" to within one report
        // (reports follow every group commit). Alert on time() minus this when the source is quiet.
        if progress.received > last.received { lastCommitReceivedTime.record(now) }
        durableLSN.record(Double(progress.durable.rawValue))
        spooledTransactions.record(Double(progress.spooledTransactions))
        spoolBytes.record(Double(progress.spoolBytes))
        receivedLSN.record(Double(progress.received.rawValue))
        if let serverWAL {
            serverWALLSN.record(Double(serverWAL.rawValue))
            // What the slot holds back: WAL the server has that is not yet durable here.
            lagBytes.record(Double(serverWAL.rawValue > progress.durable.rawValue ? serverWAL.rawValue - progress.durable.rawValue : 0))
        }
        if let committed = progress.durableCommitTime {
            let commitSeconds = Double(committed.unixMicroseconds) / 1_000_000
            lastDurableCommitTime.record(commitSeconds)
            // Caught up (nothing received beyond what is durable): no lag, however old the last
            // transaction is; otherwise how far behind the newest durable transaction is.
            lagSeconds.record(progress.received.rawValue <= progress.durable.rawValue ? 0 : max(0, now - commitSeconds))
        }
        last = progress
    }

    /// Moves the per-stage metrics to `counts` (`CompiledStageGraph.counts`).
    public func observe(stages counts: [StageCounts]) {
        for count in counts {
            var entry = stageMetrics[count.stage] ?? (
                events: (
                    in: Counter(label: "outflow_stage_events_in_total", dimensions: [("stage", count.stage)], factory: factory),
                    out: Counter(label: "outflow_stage_events_out_total", dimensions: [("stage", count.stage)], factory: factory),
                    failed: Counter(label: "outflow_stage_failures_total", dimensions: [("stage", count.stage)], factory: factory)),
                hits: Counter(label: "outflow_dedupe_hits_total", dimensions: [("stage", count.stage)], factory: factory),
                window: Gauge(label: "outflow_dedupe_window_keys", dimensions: [("stage", count.stage)], factory: factory),
                last: StageCounts(stage: count.stage, eventsIn: 0, eventsOut: 0, failures: 0, duplicatesDropped: count.duplicatesDropped.map { _ in 0 }))
            if count.eventsIn > entry.last.eventsIn { entry.events.in.increment(by: Int64(count.eventsIn - entry.last.eventsIn)) }
            if count.eventsOut > entry.last.eventsOut { entry.events.out.increment(by: Int64(count.eventsOut - entry.last.eventsOut)) }
            if count.failures > entry.last.failures { entry.events.failed.increment(by: Int64(count.failures - entry.last.failures)) }
            if let hits = count.duplicatesDropped, hits > (entry.last.duplicatesDropped ?? 0) {
                entry.hits.increment(by: Int64(hits - (entry.last.duplicatesDropped ?? 0)))
            }
            if let window = count.windowEntries { entry.window.record(Double(window)) }
            entry.last = count
            stageMetrics[count.stage] = entry
            if let forgotten = count.forgottenKeys, let memory = count.stateMemoryBytes, let disk = count.stateDiskBytes {
                var state = dedupeStateMetrics[count.stage] ?? (
                    forgotten: Counter(label: "outflow_dedupe_forgotten_keys_total", dimensions: [("stage", count.stage)], factory: factory),
                    memory: Gauge(label: "outflow_dedupe_state_memory_bytes", dimensions: [("stage", count.stage)], factory: factory),
                    disk: Gauge(label: "outflow_dedupe_state_disk_bytes", dimensions: [("stage", count.stage)], factory: factory),
                    lastForgotten: 0)
                if forgotten > state.lastForgotten { state.forgotten.increment(by: Int64(forgotten - state.lastForgotten)) }
                state.memory.record(Double(memory))
                state.disk.record(Double(disk))
                state.lastForgotten = forgotten
                dedupeStateMetrics[count.stage] = state
            }
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
