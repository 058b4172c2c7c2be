import BinaryIO
import CoreMetrics
import FaultInjection
import Foundation
import Logging
import PGOutput
import PostgresSource
import ServiceLifecycle
import Synchronization

/// The position up to which every source transaction is durable in the sink, as the pipeline
/// last reported it; shared between the pipeline's thread (which sets it) and the cleaner.
public final class SinkDurablePosition: Sendable {
    private let value = Atomic<UInt64>(0)

    public init() {}

    /// Nil until the pipeline has reported once.
    public var position: LSN? {
        let raw = value.load(ordering: .acquiring)
        return raw == 0 ? nil : LSN(raw)
    }

    public func advance(to position: LSN) {
        var current = value.load(ordering: .relaxed)
        while position.rawValue > current {
            let (exchanged, original) = value.compareExchange(expected: current, desired: position.rawValue, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            if exchanged { return }
            current = original
        }
    }

    /// What cleanup may rely on from a runner's progress: the sink's durable position, or the
    /// source's flush position (a keepalive's WAL end acknowledged while idle, so an idle stream
    /// does not stall cleanup) when everything the runner acknowledged is durable in the sink.
    public static func durable(_ progress: RunnerProgress, sourceFlush: LSN) -> LSN {
        progress.sinkDurable >= progress.durable ? max(progress.sinkDurable, sourceFlush) : progress.sinkDurable
    }
}

/// What the cleaner works on, from the outbox stage's `cleanup:` and the pipeline.
public struct OutboxCleanupSettings: Sendable {
    public var table: TableName
    public var column: String
    public var retention: Duration
    public var interval: Duration
    public var batchSize: Int
    /// The pipeline's slot: cleanup never relies on more than the server has been told is durable.
    public var slot: String
    public var statePath: String

    public init(_ cleanup: OutboxStageConfig.Cleanup, table: TableName, slot: String, stateDirectory: String) {
        self.table = table
        column = cleanup.column
        retention = cleanup.retention.duration
        interval = cleanup.interval.duration
        batchSize = cleanup.batchSize
        self.slot = slot
        statePath = OutboxCleanupState.path(stateDirectory: stateDirectory, table: table)
    }

    /// One per outbox stage with `cleanup:` in the file.
    public static func all(_ config: PipelineConfig, stateDirectory: String) -> [OutboxCleanupSettings] {
        config.stages.compactMap { stage in
            guard case .outbox(let outbox) = stage.kind, let cleanup = outbox.cleanup else { return nil }
            return OutboxCleanupSettings(cleanup, table: outbox.table, slot: config.source.slot, stateDirectory: stateDirectory)
        }
    }
}

/// Deletes outbox rows once their transaction is durable in the sink and older than the
/// retention (docs/outbox-cleanup.md). A service beside the pipeline with a thread and an
/// ordinary connection of its own: it never blocks the stream, and a failed run is logged,
/// counted and retried at the next interval — it never stops the pipeline.
public final class OutboxCleaner: Service, @unchecked Sendable {
    // @unchecked: the connection and the planner are used only inside `work`'s mutex, on the
    // sampler's one thread.
    public let settings: OutboxCleanupSettings
    let connectionString: ConnectionString
    let durable: SinkDurablePosition
    let logger: Logger
    let rowsDeleted: Counter
    let partitionsDropped: Counter
    let oldestRowAge: Gauge
    let lastRun: Gauge
    let failures: Counter

    private struct Work {
        var connection: PostgresConnection?
        var planner: CleanupPlanner
        var state: OutboxCleanupState
        var failing = false
    }

    private let work: Mutex<Work>

    public init(
        settings: OutboxCleanupSettings, connectionString: ConnectionString, durable: SinkDurablePosition, logger: Logger,
        factory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.settings = settings
        self.connectionString = connectionString
        self.durable = durable
        self.logger = logger
        let dimensions = [("table", settings.table.description)]
        rowsDeleted = Counter(label: "outflow_outbox_cleanup_rows_deleted_total", dimensions: dimensions, factory: factory)
        partitionsDropped = Counter(label: "outflow_outbox_cleanup_partitions_dropped_total", dimensions: dimensions, factory: factory)
        oldestRowAge = Gauge(label: "outflow_outbox_oldest_row_age_seconds", dimensions: dimensions, factory: factory)
        lastRun = Gauge(label: "outflow_outbox_cleanup_last_run_timestamp_seconds", dimensions: dimensions, factory: factory)
        failures = Counter(label: "outflow_errors_total", dimensions: [("kind", "outbox_cleanup")], factory: factory)
        var state = OutboxCleanupState.read(settings.statePath) ?? OutboxCleanupState(table: settings.table.description)
        if state.table != settings.table.description { state = OutboxCleanupState(table: settings.table.description) }
        let planner = CleanupPlanner(
            settings: CleanupPlanner.Settings(retention: settings.retention, interval: settings.interval), watermarks: state.watermarks,
            lastCleaned: state.lastCleaned)
        work = Mutex(Work(planner: planner, state: state))
    }

    /// Checks, before the pipeline streams, what cleanup needs: DELETE on the table (the error
    /// names the GRANT to run) and the timestamp column. A missing index on the column is a
    /// warning: cleanup works without it, slowly.
    public static func preflight(_ settings: OutboxCleanupSettings, connectionString: ConnectionString, warn: (String) -> Void) throws(PipelineError) {
        do {
            let connection = try PostgresConnection(connectionString, applicationName: "outflow outbox cleanup")
            let table = try connection.quoted(settings.table), literal = try connection.quoteLiteral(try connection.quoted(settings.table))
            let column = try connection.quoteLiteral(settings.column)
            let result = try connection.execute("""
                SELECT current_user AS role, has_table_privilege(\(literal), 'DELETE') AS may_delete,
                       (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                        WHERE attrelid = \(literal)::regclass AND attname = \(column) AND NOT attisdropped) AS column_type,
                       EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                               WHERE i.indrelid = \(literal)::regclass AND a.attname = \(column)) AS indexed
                """)
            let role = result.value("role") ?? "the pipeline's role"
            guard result.value("may_delete") == "t" else {
                throw PipelineError(
                    .sourceNotReady,
                    "outbox cleanup: role \(role) may not delete from \(settings.table); run: GRANT DELETE ON \(table) TO \(try connection.quoteIdentifier(role)); (or remove cleanup: from the outbox stage)")
            }
            guard let type = result.value("column_type") else {
                throw PipelineError(
                    .sourceNotReady,
                    "outbox cleanup: \(settings.table) has no column \(settings.column); add one set at insert (\(settings.column) timestamptz NOT NULL DEFAULT now()) or name it in cleanup.column")
            }
            guard type.hasPrefix("timestamp") else {
                throw PipelineError(.sourceNotReady, "outbox cleanup: \(settings.table).\(settings.column) is \(type), not a timestamp")
            }
            if result.value("indexed") != "t" {
                warn("warning: outbox cleanup: no index on \(settings.table) (\(settings.column)); each batch scans the table. Create one: CREATE INDEX ON \(table) (\(try connection.quoteIdentifier(settings.column)));")
            }
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(.sourceNotReady, "outbox cleanup: checking \(settings.table) failed: \(error)", underlying: error)
        }
    }

    public func run() async throws {
        let sampler = PeriodicSampler(interval: settings.interval) { [self] in runOnce() }
        try await sampler.run()
    }

    /// What one run did (for tests and the log).
    public struct RunReport: Sendable, Equatable {
        public var rowsDeleted: Int64 = 0
        public var partitionsDropped: Int64 = 0
        public var tookWatermark = false
        public var cleanedWith: CleanupWatermark?
    }

    /// One run: deletes what the newest usable watermark allows, takes a new watermark when due,
    /// measures the oldest row, and persists the state. Failures are logged, counted and kept in
    /// the state; the next run tries again on a new connection.
    @discardableResult
    public func runOnce() -> RunReport {
        work.withLock { work in
            var report = RunReport()
            do {
                if work.connection == nil {
                    let connection = try PostgresConnection(connectionString, applicationName: "outflow outbox cleanup")
                    // A batch never waits long for a lock: it fails and is tried again next run.
                    try connection.execute("SET lock_timeout = '2s'")
                    work.connection = connection
                }
                let connection = work.connection!
                try run(&work, connection: connection, report: &report)
                if work.failing { logger.info("outbox cleanup works again", metadata: ["outflow.table": "\(settings.table)"]) }
                work.failing = false
                work.state.lastError = nil
            } catch {
                failures.increment()
                work.connection = nil
                work.state.lastError = "\(error)"
                if !work.failing {
                    logger.warning("outbox cleanup failed; retrying", metadata: ["outflow.table": "\(settings.table)", "outflow.error": "\(error)"])
                }
                work.failing = true
            }
            work.state.watermarks = work.planner.watermarks
            work.state.lastCleaned = work.planner.lastCleaned
            do { try work.state.write(settings.statePath) } catch {
                logger.warning("outbox cleanup: writing its state failed", metadata: ["outflow.error": "\(error)"])
            }
            return report
        }
    }

    private func run(_ work: inout Work, connection: PostgresConnection, report: inout RunReport) throws(PostgresError) {
        let clock = try connection.execute(CleanupStatements.clockAndSlot(slotLiteral: try connection.quoteLiteral(settings.slot)))
        guard let now = clock.value("now").flatMap(Double.init) else { return }
        // Durable in the sink and confirmed to the server: the slot lags the sink by a status
        // update at most, and the server's record then agrees with every delete.
        let confirmed = clock.value("confirmed").flatMap { LSN($0) }
        let position = [durable.position, confirmed].compactMap { $0 }
        let usableThrough = position.count == 2 ? position.min()! : LSN.zero
        let statements = CleanupStatements(table: try connection.quoted(settings.table), column: try connection.quoteIdentifier(settings.column))
        for action in work.planner.plan(now: now, durable: usableThrough) {
            switch action {
            case .clean(let watermark):
                report.cleanedWith = watermark
                // Whole partitions first (cheap), then row by row what is left.
                report.partitionsDropped += try dropPartitions(statements, watermark, connection: connection, state: &work.state)
                let (deleted, finished) = try deleteRows(statements, watermark, connection: connection, state: &work.state)
                report.rowsDeleted += deleted
                // A backlog cut short by the time budget goes on with the same watermark next run.
                if finished { work.planner.cleaned(with: watermark) }
            case .takeWatermark:
                guard let watermark = try takeWatermark(connection) else { continue }
                work.planner.recorded(watermark)
                report.tookWatermark = true
            }
        }
        let age = try connection.execute(statements.oldestRowAge).value("age").flatMap(Double.init)
        work.state.oldestRowAgeSeconds = age
        oldestRowAge.record(max(0, age ?? 0))
        work.state.lastRunTime = now
        lastRun.record(now)
    }

    private func takeWatermark(_ connection: PostgresConnection) throws(PostgresError) -> CleanupWatermark? {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do throws(PostgresError) {
            let snapshot = try connection.execute(CleanupStatements.watermarkSnapshot).value("snapshot")
            let running = try connection.execute(CleanupStatements.watermarkRunning).rows.compactMap { $0[0].flatMap { UInt32($0) } }
            let position = try connection.execute(CleanupStatements.watermarkPosition)
            try connection.execute("COMMIT")
            guard let snapshot, let lsn = position.value("lsn").flatMap({ LSN($0) }), let time = position.value("time").flatMap(Double.init) else { return nil }
            return CleanupWatermark(snapshot: snapshot, running: Array(Set(running)).sorted(), lsn: lsn, time: time)
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// How long one run deletes before it lets the next run go on (a large backlog, say when
    /// cleanup is first switched on, must not hold a stop of the pipeline for minutes).
    static let runBudget: Duration = .seconds(10)

    /// Batches of `batchSize` rows, each a transaction of its own, until a batch comes back short
    /// (finished) or the run's time budget is spent.
    private func deleteRows(
        _ statements: CleanupStatements, _ watermark: CleanupWatermark, connection: PostgresConnection, state: inout OutboxCleanupState
    ) throws(PostgresError) -> (deleted: Int64, finished: Bool) {
        var total: Int64 = 0
        let started = ContinuousClock.now
        while true {
            if ContinuousClock.now - started > Self.runBudget { return (total, false) }
            try connection.execute("BEGIN")
            let deleted: Int64
            do throws(PostgresError) {
                guard let reference = try connection.execute(CleanupStatements.currentXmax).value("xmax").flatMap({ UInt64($0) }),
                      let delete = statements.deleteBatch(watermark, limit: settings.batchSize, reference: reference) else {
                    try connection.execute("ROLLBACK")
                    return (total, true)
                }
                let result = try connection.execute(delete)
                deleted = Int64(result.commandTag.split(separator: " ").last ?? "") ?? 0
                CrashPoint.hit("cleanup.batch.before-commit")
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            CrashPoint.hit("cleanup.batch.after-commit")
            total += deleted
            state.rowsDeleted += deleted
            rowsDeleted.increment(by: deleted)
            if deleted < Int64(settings.batchSize) { return (total, true) }
        }
    }

    /// A table range-partitioned on the column: each partition whose upper bound is at or before
    /// the watermark's time and all of whose rows are visible in it is dropped whole — checked
    /// again under the partition's lock (taken with a short lock_timeout: a busy partition is
    /// left for a later run).
    private func dropPartitions(
        _ statements: CleanupStatements, _ watermark: CleanupWatermark, connection: PostgresConnection, state: inout OutboxCleanupState
    ) throws(PostgresError) -> Int64 {
        let partitions = try connection.execute(CleanupStatements.partitions(tableLiteral: try connection.quoteLiteral(statements.table)))
        guard !partitions.rows.isEmpty else { return 0 }
        var dropped: Int64 = 0
        for index in partitions.rows.indices {
            guard let name = partitions.value("name", row: index), let bound = partitions.value("bound", row: index),
                  let upper = CleanupStatements.upperBound(bound) else { continue }
            let due = try connection.execute("SELECT \(upper)::timestamptz <= to_timestamp(\(watermark.time)) AS due").value("due")
            guard due == "t" else { continue }
            try connection.execute("BEGIN")
            do throws(PostgresError) {
                try connection.execute("SET LOCAL lock_timeout = '500ms'")
                try connection.execute("LOCK TABLE \(name) IN ACCESS EXCLUSIVE MODE")
                guard let reference = try connection.execute(CleanupStatements.currentXmax).value("xmax").flatMap({ UInt64($0) }),
                      let visible = CleanupStatements.visible(in: watermark, reference: reference) else {
                    try connection.execute("ROLLBACK")
                    continue
                }
                let left = try connection.execute("SELECT count(*) AS left FROM \(name) WHERE NOT \(visible)").value("left")
                guard left == "0" else {
                    try connection.execute("ROLLBACK")
                    continue
                }
                try connection.execute("DROP TABLE \(name)")
                try connection.execute("COMMIT")
            } catch where error.sqlState == "55P03" {
                // lock_timeout: the partition (or the table) is busy; a later run tries again.
                _ = try? connection.execute("ROLLBACK")
                continue
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            dropped += 1
            state.partitionsDropped += 1
            partitionsDropped.increment()
            logger.info("outbox cleanup dropped partition \(name)", metadata: ["outflow.table": "\(settings.table)"])
        }
        return dropped
    }
}
