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

/// The runner's side of snapshots: requests seen in the stream queue jobs; a table is cut
/// into key ranges, one per reader; each reader (a lane of `ChunkReadBoard`, a connection of
/// its own) reads its range chunk after chunk between each chunk's watermarks; at a chunk's
/// high watermark its rows are merged with the stream (`ChunkWindow`) and handed to the runner
/// to write inside that watermark's transaction; the progress (each range's last key) travels
/// in the checkpoint of the group it was written in.
///
/// A reader reads its next chunk while the stream catches up with the previous one, up to
/// `chunksInFlight` chunks not yet merged, so memory is at most `readers × chunksInFlight`
/// chunks; the stream goes on meanwhile, and the slot keeps advancing.
public final class SnapshotCoordinator {
    public struct Settings: Sendable {
        /// The pipeline's slot: requests name it, so a request for another pipeline on the
        /// same database is left alone.
        public var slot: String
        /// The tables a snapshot may read: the captured ones that are not outbox tables (old
        /// outbox rows are not events).
        public var tables: [TableName]
        public var chunkSize = 4096
        /// Connections reading key ranges of a table in parallel.
        public var readers = 2
        /// Chunks a reader holds that the stream has not yet caught up with: 2 lets it read
        /// the next while the previous one waits for its high watermark.
        public var chunksInFlight = 2
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
    private let board: ChunkReadBoard
    /// One per lane, made when the first chunk is due.
    private var chunkReaders: [any SnapshotChunkReader] = []
    /// Open windows by watermark: chunks whose low watermark the stream brought.
    private var windows: [String: ChunkWindow] = [:]
    /// The ranges of the current table a lane is reading (since the last restart).
    private var rangesAssigned: Set<Int> = []
    private var described: [TableName: SnapshotTable] = [:]
    private var retryAfter: ContinuousClock.Instant?
    /// The initial snapshot's request was written by this run and has not come back yet.
    private var awaitingRequest: String?
    /// Rows and chunks this run emitted, for progress lines.
    public private(set) var rowsEmitted = 0
    public private(set) var chunksMerged = 0
    /// Chunks read again (a change in their window without its key, a failed read, a dropped group).
    public private(set) var restarts = 0
    private var estimates: [TableName: Int64] = [:]

    public init(settings: Settings, reader: any SnapshotReader, logger: Logger = Logger(label: "outflow.snapshot")) {
        self.settings = settings
        self.reader = reader
        self.logger = logger
        board = ChunkReadBoard(lanes: max(1, settings.readers), depth: max(1, settings.chunksInFlight))
    }

    deinit { board.stop() }

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
        settings.mode == .initialOnly && awaitingRequest == nil && progress.isIdle && committed == progress && windows.isEmpty
            && board.chunksInFlight == 0
    }

    /// The progress for the group's checkpoint: nil when no snapshot ran since the last commit
    /// that said so, so a pipeline without snapshots writes the checkpoints it always wrote.
    var checkpointProgress: SnapshotProgress? {
        progress.isIdle && committed.isIdle && progress == committed && committed.finished.isEmpty ? nil : progress
    }

    func didCommit() { committed = progress }

    /// The group was dropped: back to what is committed; the chunks in flight are read again
    /// (their watermarks, if the stream sends them again, no longer match).
    func didAbort() {
        progress = committed
        restartReads()
    }

    /// Forgets every chunk in flight: the lanes start again from the progress's keys.
    private func restartReads() {
        board.restart()
        windows = [:]
        rangesAssigned = []
        restarts += 1
    }

    /// Between source transactions: starts reading the current table's ranges on idle lanes
    /// (and, with a scripted reader, reads what is due on this thread).
    func readChunkIfDue(now: ContinuousClock.Instant) throws(PipelineError) {
        guard var job = progress.jobs.first else { return }
        if let retryAfter, now < retryAfter { return }
        retryAfter = nil
        if let error = board.failure() {
            logger.warning("snapshot \(job.id): a read failed; reading again in \(settings.retryInterval)", metadata: ["outflow.error": "\(error.message)"])
            restartReads()
            if error.code != .snapshot { described = [:] }
            retryAfter = now.advanced(by: settings.retryInterval)
            return
        }
        guard let tableName = job.tables.first else {
            progress.finishFirstJob()
            return
        }
        do throws(PipelineError) {
            let table: SnapshotTable
            if let known = described[tableName] { table = known } else { table = try reader.describe(tableName) }
            described[tableName] = table
            if estimates[tableName] == nil { estimates[tableName] = reader.estimatedRows(tableName) ?? -1 }
            if job.ranges.isEmpty {
                let keys = settings.readers > 1 ? try reader.splitKeys(table, parts: settings.readers) : []
                var after: [String?]? = nil
                for key in keys {
                    job.ranges.append(SnapshotProgress.KeyRange(after: after, through: key))
                    after = key
                }
                job.ranges.append(SnapshotProgress.KeyRange(after: after, through: nil))
                progress.jobs[0] = job
                if job.ranges.count > 1 { logger.info("snapshot \(job.id): \(tableName) is read in \(job.ranges.count) key ranges in parallel") }
            }
        } catch where error.code == .snapshot {
            logger.error("snapshot \(job.id): \(tableName) is skipped: \(error.message)")
            job.tables.removeFirst()
            job.ranges = []
            progress.jobs[0] = job
            return
        } catch {
            logger.warning("snapshot \(job.id): reading \(tableName) failed; trying again in \(settings.retryInterval)", metadata: ["outflow.error": "\(error.message)"])
            described[tableName] = nil
            retryAfter = now.advanced(by: settings.retryInterval)
            return
        }
        guard let table = described[tableName] else { return }
        var idle = board.idleLanes()
        for (index, range) in job.ranges.enumerated() where !range.done && !rangesAssigned.contains(index) {
            guard !idle.isEmpty else { break }
            let lane = idle.removeFirst()
            board.assign(ChunkReadBoard.Assignment(
                jobID: job.id, table: table, range: index, after: range.after, through: range.through, filter: job.filter, limit: settings.chunkSize), lane: lane)
            rangesAssigned.insert(index)
        }
        if chunkReaders.isEmpty {
            chunkReaders = (0..<board.laneCount).map { _ in reader.chunkReader() }
            if reader.readsConcurrently {
                for (lane, chunkReader) in chunkReaders.enumerated() { ChunkReadLane.start(lane: lane, reader: chunkReader, board: board) }
            }
        }
        if !reader.readsConcurrently { ChunkReadLane.pump(readers: chunkReaders, board: board) }
    }

    /// A change from the stream (a transaction that is not skipped), in stream order.
    func note(_ change: SourceChange) {
        guard !windows.isEmpty else { return }
        for key in windows.keys { windows[key]!.note(change) }
    }

    /// Changes went by whose keys the runner no longer has (a large transaction staged while it
    /// streamed): the chunks whose windows they fall in are read again.
    func changesWithoutKeys() {
        for key in windows.keys { windows[key]!.changesWithoutKeys() }
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
        switch watermark.kind {
        case .low:
            // One of this run's current reads: its window opens. Anything else is an earlier
            // read's (a crash, a restart), whose watermarks the stream sends again.
            if let slot = board.slot(watermark.chunk) { windows[watermark.chunk] = ChunkWindow(table: slot.read.table) }
            return []
        case .high:
            let window = windows.removeValue(forKey: watermark.chunk)
            guard let slot = board.take(watermark.chunk) else { return [] }  // an earlier read's
            guard let window, case .read(let chunk) = slot.state, !window.mustReadAgain, var job = progress.jobs.first,
                  job.tables.first == chunk.table.name, slot.range < job.ranges.count
            else {
                if case .failed = slot.state {
                    restartReads()
                    return []
                }
                logger.info("snapshot chunks of \(slot.read.table.name) are read again: changes in a window could not be matched by key")
                restartReads()
                return []
            }
            let rows = window.rowsToEmit(chunk)
            if let last = chunk.lastKey { job.ranges[slot.range].after = last }
            if chunk.isLastOfRange {
                job.ranges[slot.range].done = true
                rangesAssigned.remove(slot.range)
            }
            job.rows += Int64(rows.count)
            job.chunks += 1
            chunksMerged += 1
            rowsEmitted += rows.count
            if job.ranges.allSatisfy(\.done) {
                job.tables.removeFirst()
                job.ranges = []
                rangesAssigned = []
            }
            progress.jobs[0] = job
            let jobDone = job.tables.isEmpty
            var emissions: [Emission] = rows.enumerated().map { index, row in
                .row(chunk.table, row, job: job.id, mark: jobDone && index == rows.count - 1 ? .last : .row)
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
