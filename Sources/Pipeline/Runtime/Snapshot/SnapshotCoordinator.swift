import Foundation
import Logging
import PGOutput
import PostgresSource

/// `source.postgres.snapshot`: whether a pipeline starts with a snapshot of its tables.
public enum SnapshotMode: String, Sendable, CaseIterable {
    /// Only what the stream brings (backfills on request still run).
    case never
    /// When the log is new: a snapshot of every captured table that is not an outbox, then
    /// the stream goes on.
    case initial
    /// As `initial`, then the pipeline stops.
    case initialOnly = "initial_only"
}

/// The runner's side of snapshots: requests seen in the stream queue jobs; one chunk at a
/// time is read between its watermarks (`SnapshotReader`), merged with the stream
/// (`ChunkWindow`) and handed to the runner to write inside the high watermark's transaction;
/// the progress travels in the checkpoint of the group it was written in.
///
/// It never reads a chunk while the previous one is still waiting for its high watermark, so
/// memory is one chunk; the stream goes on meanwhile, and the slot keeps advancing.
public final class SnapshotCoordinator {
    public struct Settings: Sendable {
        /// The pipeline's slot: requests name it, so a request for another pipeline on the
        /// same database is left alone.
        public var slot: String
        /// The tables a snapshot may read: the captured ones that are not outbox tables (old
        /// outbox rows are not events).
        public var tables: [TableName]
        public var chunkSize = 4096
        public var mode = SnapshotMode.never
        /// How long to wait before reading again after the database could not be asked.
        public var retryInterval: Duration = .seconds(1)

        public init(slot: String, tables: [TableName]) {
            self.slot = slot
            self.tables = tables
        }
    }

    /// What the runner writes for a snapshot, in the transaction the message came in.
    enum Emission {
        /// A row read, to go through the stages like a streamed insert, marked as a read.
        case row(SnapshotTable, TupleData, job: String, mark: SnapshotMark)
        /// A line in the `__snapshots` topic: a snapshot was requested or finished.
        case control(job: String, EventValue)
    }

    public static let controlTopic = "__snapshots"
    /// The origin table of control lines (they come from no table).
    static let controlTable = TableName(schema: "outflow", name: "snapshots")
    /// The header naming the snapshot a record was read by.
    public static let headerKey = "outflow.snapshot"
    static let initialID = "initial"

    public let settings: Settings
    let reader: any SnapshotReader
    let logger: Logger
    /// What the last commit holds.
    public private(set) var committed = SnapshotProgress()
    /// What the open group will commit.
    public private(set) var progress = SnapshotProgress()
    private var window: ChunkWindow?
    private var described: [TableName: SnapshotTable] = [:]
    private var retryAfter: ContinuousClock.Instant?
    /// The initial snapshot's request was written by this run and has not come back yet.
    private var awaitingRequest: String?
    /// Rows and chunks this run emitted, for progress lines.
    public private(set) var rowsEmitted = 0
    public private(set) var chunksMerged = 0
    private var estimates: [TableName: Int64] = [:]

    public init(settings: Settings, reader: any SnapshotReader, logger: Logger = Logger(label: "outflow.snapshot")) {
        self.settings = settings
        self.reader = reader
        self.logger = logger
    }

    /// Takes up what the log's last checkpoint says, and queues the initial snapshot when the
    /// mode asks for one and the log holds nothing yet. The request goes through the stream
    /// like a backfill's, so it is ordered with the changes and survives a crash before the
    /// first commit (it is read again, and a second request with the same id is ignored).
    func start(lastCheckpoint: Checkpoint?) throws(PipelineError) {
        committed = lastCheckpoint?.snapshot ?? SnapshotProgress()
        progress = committed
        guard settings.mode != .never, lastCheckpoint == nil else { return }
        guard !settings.tables.isEmpty else {
            logger.info("initial snapshot: no table to read (outbox tables are never snapshotted)")
            return
        }
        try reader.request(SnapshotRequest(id: Self.initialID, slot: settings.slot, tables: settings.tables))
        awaitingRequest = Self.initialID
        logger.info("initial snapshot requested", metadata: ["outflow.tables": "\(settings.tables.map(\.description).joined(separator: ","))"])
    }

    /// `initial_only`: the initial snapshot is done and committed (or was before this run).
    public var finishedInitialOnly: Bool {
        settings.mode == .initialOnly && awaitingRequest == nil && progress.isIdle && committed == progress && window == nil
    }

    /// The progress for the group's checkpoint: nil when no snapshot ran since the last commit
    /// that said so, so a pipeline without snapshots writes the checkpoints it always wrote.
    var checkpointProgress: SnapshotProgress? {
        progress.isIdle && committed.isIdle && progress == committed && committed.finished.isEmpty ? nil : progress
    }

    func didCommit() { committed = progress }

    /// The group was dropped: back to what is committed; a chunk in flight is read again
    /// (its watermarks, if the stream sends them again, no longer match).
    func didAbort() {
        progress = committed
        window = nil
    }

    /// Between source transactions: reads the next chunk when none is waiting for its
    /// watermarks and a snapshot is queued.
    func readChunkIfDue(now: ContinuousClock.Instant) throws(PipelineError) {
        guard window == nil, var job = progress.jobs.first else { return }
        if let retryAfter, now < retryAfter { return }
        retryAfter = nil
        guard let tableName = job.tables.first else {
            progress.finishFirstJob()
            return
        }
        do throws(PipelineError) {
            let table: SnapshotTable
            if let known = described[tableName] { table = known } else { table = try reader.describe(tableName) }
            described[tableName] = table
            if estimates[tableName] == nil { estimates[tableName] = reader.estimatedRows(tableName) ?? -1 }
            let watermark = "\(job.id):\(job.chunks):\(UInt64.random(in: 0...UInt64.max))"
            window = ChunkWindow(try reader.readChunk(table, after: job.after, filter: job.filter, limit: settings.chunkSize, watermark: watermark))
        } catch where error.code == .snapshot {
            logger.error("snapshot \(job.id): \(tableName) is skipped: \(error.message)")
            job.tables.removeFirst()
            job.after = nil
            progress.jobs[0] = job
        } catch {
            logger.warning("snapshot \(job.id): reading \(tableName) failed; trying again in \(settings.retryInterval)", metadata: ["outflow.error": "\(error.message)"])
            described[tableName] = nil
            retryAfter = now.advanced(by: settings.retryInterval)
        }
    }

    /// A change from the stream (a transaction that is not skipped), in stream order.
    func note(_ change: SourceChange) {
        window?.note(change)
    }

    /// Changes went by whose keys the runner no longer has (a large transaction staged while it
    /// streamed): a chunk whose window they fall in is read again.
    func changesWithoutKeys() {
        window?.changesWithoutKeys()
    }

    /// A logical message inside transaction `xid`; what to write for it.
    func handle(_ message: SourceMessage) -> [Emission] {
        let decoded: SnapshotMessage?
        do { decoded = try SnapshotMessage(prefix: message.prefix, content: message.content) } catch {
            logger.warning("\(error)", metadata: ["outflow.lsn": "\(message.lsn)"])
            return []
        }
        switch decoded {
        case .request(let request)?: return queue(request)
        case .watermark(let watermark)?: return handle(watermark)
        case nil: return []
        }
    }

    private func queue(_ request: SnapshotRequest) -> [Emission] {
        guard request.slot == settings.slot else { return [] }
        if awaitingRequest == request.id { awaitingRequest = nil }
        guard !progress.knows(request.id) else { return [] }
        let tables = request.tables.isEmpty ? settings.tables : request.tables
        let refused = tables.filter { !settings.tables.contains($0) }
        guard refused.isEmpty, !tables.isEmpty else {
            logger.error("snapshot request \(request.id) refused: \(refused.isEmpty ? "no table to read" : "\(refused.map(\.description).joined(separator: ", ")) is not a captured table of this pipeline, or an outbox table")")
            return []
        }
        progress.jobs.append(SnapshotProgress.Job(id: request.id, tables: tables, filter: request.filter))
        logger.info("snapshot \(request.id) queued", metadata: ["outflow.tables": "\(tables.map(\.description).joined(separator: ","))"])
        var control: [String: EventValue] = ["id": .string(request.id), "event": .string("requested"), "tables": .array(tables.map { .string($0.description) })]
        if let filter = request.filter { control["where"] = .string(filter) }
        return [.control(job: request.id, .object(control))]
    }

    private func handle(_ watermark: SnapshotWatermark) -> [Emission] {
        guard var window, window.chunk.watermark == watermark.chunk else { return [] }  // an earlier read's
        switch watermark.kind {
        case .low:
            window.lowWatermark()
            self.window = window
            return []
        case .high:
            self.window = nil
            guard window.state == .open, !window.mustReadAgain, var job = progress.jobs.first else {
                logger.info("snapshot chunk of \(window.chunk.table.name) is read again: changes in its window could not be matched by key")
                return []
            }
            let rows = window.rowsToEmit()
            job.after = window.lastKey ?? job.after
            job.rows += Int64(rows.count)
            job.chunks += 1
            chunksMerged += 1
            rowsEmitted += rows.count
            let tableDone = window.chunk.isLastOfTable
            if tableDone {
                job.tables.removeFirst()
                job.after = nil
            }
            progress.jobs[0] = job
            let jobDone = job.tables.isEmpty
            var emissions: [Emission] = rows.enumerated().map { index, row in
                .row(window.chunk.table, row, job: job.id, mark: jobDone && index == rows.count - 1 ? .last : .row)
            }
            if jobDone {
                progress.finishFirstJob()
                logger.info("snapshot \(job.id) finished: \(job.rows) rows in \(job.chunks) chunks")
                emissions.append(.control(job: job.id, .object([
                    "id": .string(job.id), "event": .string("finished"), "rows": .int(job.rows), "chunks": .int(job.chunks),
                ])))
            }
            return emissions
        }
    }

    /// One line on where the running snapshot stands; nil when none runs.
    public var status: String? {
        guard let job = progress.jobs.first else { return nil }
        let table = job.tables.first.map(\.description) ?? "-"
        let estimate = job.tables.first.flatMap { estimates[$0] }.flatMap { $0 >= 0 ? " (about \($0) rows)" : nil } ?? ""
        return "snapshot \(job.id): \(job.rows) rows in \(job.chunks) chunks; reading \(table)\(estimate), \(job.tables.count) tables left"
    }
}

/// A snapshot record's place (Debezium's `source.snapshot`): a row, or the snapshot's last.
public enum SnapshotMark: String, Sendable, Hashable {
    case row = "true"
    case last
}

extension SnapshotRequest {
    /// `outflow snapshot`: asks the pipeline of `config` to backfill `tables` (empty: every
    /// table it may snapshot), through the database, so the request is ordered with the
    /// changes around it and waits in the slot's WAL for the next run if none is running.
    /// Checks the tables first: a table the pipeline does not capture, or an outbox table, is
    /// refused here rather than in the running pipeline's log.
    public static func send(for config: PipelineConfig, tables: [TableName], filter: String?) throws(PipelineError) -> SnapshotRequest {
        let built = try PipelineBuilder.build(config)
        guard let settings = built.snapshots else {
            throw PipelineError(.snapshot, "pipeline \(config.name) runs with guarantee \(config.guarantee.rawValue): snapshots need exactly_once (their progress is committed with their rows)")
        }
        for table in tables where !settings.tables.contains(table) {
            throw PipelineError(.snapshot, config.source.tables.contains(table)
                ? "\(table) is an outbox table: old outbox rows are not events, so it is never snapshotted"
                : "\(table) is not one of the pipeline's tables (\(config.source.tables.map(\.description).joined(separator: ", ")))")
        }
        guard !settings.tables.isEmpty else {
            throw PipelineError(.snapshot, "pipeline \(config.name) has no table to snapshot: outbox tables are never snapshotted")
        }
        let request = SnapshotRequest(
            id: "backfill-\(Int64(Date().timeIntervalSince1970))-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))", slot: settings.slot,
            tables: tables.isEmpty ? settings.tables : tables, filter: filter)
        // Each table must be readable as a snapshot reads it (a primary key): refused here, not
        // in the running pipeline's log.
        let reader = PostgresSnapshotReader(connectionString: built.connectionString)
        for table in request.tables { _ = try reader.describe(table) }
        try reader.request(request)
        return request
    }
}
