import FaultInjection
import Foundation
import Logging
import PGOutput
import PostgresSource
import SegmentLog

/// What the runner has done so far, for progress lines and tests.
public struct RunnerProgress: Sendable {
    public var sourceTransactions = 0
    public var skippedTransactions = 0
    /// Source transactions that were streamed while open (spooled until their commit).
    public var streamedTransactions = 0
    public var events = 0
    public var records = 0
    public var deadLetters = 0
    /// Groups that reached the sink (a commit, or a sync of plain appends).
    public var logCommits = 0
    /// The last source position made durable (Commit end LSN) — at_most_once: acknowledged on
    /// receipt, which is not durable in the sink; see `sinkDurable`.
    public var durable: LSN = .zero
    /// Every source transaction up to this position is durable in the sink (equal to `durable`
    /// except in at_most_once, where it moves at the background sync). What outbox cleanup may
    /// rely on.
    public var sinkDurable: LSN = .zero
    /// The newest commit LSN seen from the source.
    public var received: LSN = .zero
    /// When the newest durable source transaction committed in the source.
    public var durableCommitTime: PostgresTimestamp?
    /// How long the last group commit took (the sink's commit or sync, and the acknowledgement).
    public var lastCommitDuration: Duration?
    /// Streamed transactions still open, and the bytes their spool files hold on disk.
    public var spooledTransactions = 0
    public var spoolBytes: Int64 = 0
    /// Snapshot rows this run wrote (after the merge with the stream), and where the running
    /// snapshot stands (nil: none runs).
    public var snapshotRows = 0
    public var snapshotStatus: String?
}

/// The pipeline loop: a small scheduler between a `ChangeSource` and a `Sink`. It reads source
/// events, runs each change through the `EventProcessor`, and commits groups of source
/// transactions when the `GroupCommitSchedule` says so, in the order the `DeliveryMode` says
/// (exactly_once, at_least_once, at_most_once, or replay's).
///
/// Group commit: source transactions that arrive back to back share one group (one set of
/// fsyncs), committed only between source transactions.
///
/// Large transactions that the source streams while they are open are spooled to disk until
/// their Stream Commit, and reach the sink then, in commit order, like every other.
public final class PipelineRunner {
    public struct Settings: Sendable {
        public var pipelineName: String
        public var databaseName: String = ""
        public var partitions: Int32 = 1
        public var deadLetterTopic: String
        /// Send events that fail a stage to the dead-letter topic (true) or stop (false).
        public var deadLetterOnFailure = true
        /// Records per partition and bytes buffered before they are appended to the log.
        public var batchRecords = 2000
        public var batchBytes = 1 << 20
        public var groupMaxBytes = 4 << 20
        public var groupMaxLatency: Duration = .milliseconds(100)
        /// A pause in the stream commits the group only this long after the previous commit
        /// began (`sink.log.min_commit_interval`); see `GroupCommitSchedule`.
        public var commitSpacing: Duration = .milliseconds(5)
        /// Keep every source change in the `__changelog` topic, for replay.
        public var changelog = false
        /// How long a stop waits for the source transaction in progress to finish.
        public var drainTimeout: Duration = .seconds(10)
        public var guarantee: DeliveryGuarantee = .exactlyOnce
        /// at_most_once: how often the log is fsynced.
        public var backgroundSyncInterval: Duration = .seconds(1)
        /// at_least_once: completed source transactions are appended (visible, not yet durable)
        /// at most this long after they arrive, without waiting for the group's end.
        public var visibilityInterval: Duration = .milliseconds(5)
        /// Where stateful stages keep their files (`<dir>/<stage id>`); nil: a temporary
        /// directory each, which lasts as long as the stage. A runner on a log writer defaults
        /// to `stateDirectory(forLog:)`.
        public var stateDirectory: String?

        /// Beside the log's partitions (a name no topic-partition directory can have).
        public static func stateDirectory(forLog directory: String) -> String { directory + "/__stage_state" }

        public init(pipelineName: String, deadLetterTopic: String) {
            self.pipelineName = pipelineName
            self.deadLetterTopic = deadLetterTopic
        }
    }

    public let settings: Settings
    let graph: CompiledStageGraph
    let sink: any Sink
    let mode: any DeliveryMode
    let processor: EventProcessor
    let logger: Logger
    let clock: any RunnerClock
    private var schedule: GroupCommitSchedule
    /// The position the sink holds: every source transaction whose commit is before it is in
    /// the sink already and is skipped when the source sends it again.
    public private(set) var committedPosition: LSN
    /// Where the source should start (its durable position).
    public var sourceStart: LSN { mode.sourceStart(committedPosition: committedPosition) }
    public private(set) var progress = RunnerProgress()

    /// Streamed in-progress transactions, on disk until they commit.
    private let spool = StreamedTransactionSpool(
        directory: FileManager.default.temporaryDirectory.appendingPathComponent("outflow-spool-\(ProcessInfo.processInfo.processIdentifier)").path)
    /// The transaction of the stream block being read (between Stream Start and Stream Stop).
    private var streamXID: UInt32?
    /// A streamed transaction's changes go through the stages as they arrive, and only what
    /// comes out is spooled (to be completed with the commit position at Stream Commit) —
    /// unless a stage keeps state or reads the commit position, or the changelog is written (its
    /// records name the commit): then the changes are spooled and staged at Stream Commit.
    /// Staging as the chunks arrive overlaps the stages with the server still decoding the
    /// transaction, instead of starting them when it has finished (docs/performance.md).
    public let stagesStreamedChanges: Bool

    /// Transaction being read from the source (nil between transactions).
    private var current: TransactionBegin?
    private var skippingCurrent = false
    /// End LSN of the last source transaction read completely but not yet committed.
    private var pendingEnd: LSN?
    /// Its commit time in the source.
    private var pendingCommitTime: PostgresTimestamp?
    /// The end of the last group appended but not yet synced (at_most_once).
    private var appendedThrough: LSN = .zero
    /// Snapshots (exactly-once pipelines): chunks read between watermarks and merged with the
    /// stream; nil when the pipeline takes none.
    let snapshots: SnapshotCoordinator?
    /// Sequence of the next snapshot row within the watermark's transaction.
    private var snapshotSequence = 0

    /// A runner writing to the log through a `LogSink`.
    public convenience init(
        graph: CompiledStageGraph, writer: LogWriter, settings: Settings, rowDecoder: RowDecoder = RowDecoder(connectionString: nil),
        logger: Logger = Logger(label: "outflow.pipeline"), clock: any RunnerClock = SystemClock(), snapshots: SnapshotCoordinator? = nil
    ) throws(PipelineError) {
        var settings = settings
        if settings.stateDirectory == nil { settings.stateDirectory = Settings.stateDirectory(forLog: writer.directory) }
        try self.init(
            graph: graph, sink: LogSink(writer: writer, settings: settings), settings: settings, rowDecoder: rowDecoder, logger: logger, clock: clock,
            snapshots: snapshots)
    }

    /// `snapshots` needs the exactly-once guarantee: its progress travels in the checkpoint.
    public convenience init(
        graph: CompiledStageGraph, sink: any Sink, settings: Settings, rowDecoder: RowDecoder = RowDecoder(connectionString: nil),
        logger: Logger = Logger(label: "outflow.pipeline"), clock: any RunnerClock = SystemClock(), snapshots: SnapshotCoordinator? = nil
    ) throws(PipelineError) {
        try self.init(
            graph: graph, sink: sink, settings: settings, mode: settings.guarantee.mode, rowDecoder: rowDecoder, logger: logger, clock: clock,
            snapshots: snapshots)
    }

    init(
        graph: CompiledStageGraph, sink: any Sink, settings: Settings, mode: any DeliveryMode, topicSuffix: String? = nil, rowDecoder: RowDecoder,
        logger: Logger, clock: any RunnerClock, snapshots: SnapshotCoordinator? = nil
    ) throws(PipelineError) {
        if snapshots != nil, settings.guarantee != .exactlyOnce {
            throw PipelineError(.configuration, "snapshots need guarantee exactly_once: their progress is committed with the rows they write")
        }
        self.snapshots = snapshots
        self.graph = graph
        self.settings = settings
        self.sink = sink
        self.mode = mode
        self.logger = logger
        self.clock = clock
        processor = EventProcessor(
            graph: graph, rows: ChangeRowDecoding(decoder: rowDecoder, graph: graph), sink: sink, deadLetterTopic: settings.deadLetterTopic,
            deadLetterOnFailure: settings.deadLetterOnFailure, topicSuffix: topicSuffix)
        let stagedAtCommitBecause = Self.reasonToStageAtCommit(graph: graph, changelog: settings.changelog)
        stagesStreamedChanges = stagedAtCommitBecause == nil
        if let stagedAtCommitBecause {
            logger.info("large (streamed) transactions go through the stages at their commit: \(stagedAtCommitBecause)")
        }
        sink.transactional = mode.transactional
        schedule = GroupCommitSchedule(settings: mode.schedule(settings), now: clock.now)
        committedPosition = try mode.resumePosition(sink: sink)
        progress.durable = committedPosition
        progress.sinkDurable = committedPosition
        try openStageState()
        if let snapshots {
            let last: Checkpoint?
            do { last = try sink.lastCheckpoint() } catch { throw PipelineError(error) }
            try snapshots.start(lastCheckpoint: last)
        }
    }

    /// Stateful stages (dedupe) open their state: in exactly-once as the retained checkpoints
    /// left it (exactly what was committed, nothing from aborted transactions); otherwise empty.
    private func openStageState() throws(PipelineError) {
        let stages = graph.statefulStages
        guard !stages.isEmpty else { return }
        var history: [Checkpoint] = []
        if mode.restoresStageState, committedPosition != .zero {
            do { history = try sink.checkpointHistory() } catch { throw PipelineError(error) }
        }
        for stage in stages {
            let changes = mode.restoresStageState ? history.compactMap { $0.stageChanges[stage.id] } : nil
            do { try stage.openState(directory: settings.stateDirectory.map { "\($0)/\(stage.id)" }, committed: changes) } catch {
                throw PipelineError(.checkpoint, "restoring the state of stage \(stage.id) failed: \(error)", underlying: error)
            }
        }
    }

    /// Runs until `shouldStop` turns true (then finishes the open source transaction and
    /// commits), until a finite source is exhausted, or until an error.
    public func run(source: any ChangeSource, shouldStop: () -> Bool, report: (RunnerProgress) -> Void = { _ in }) throws(PipelineError) {
        var stopDeadline: ContinuousClock.Instant?
        while true {
            if stopDeadline == nil, shouldStop() || snapshots?.finishedInitialOnly == true {
                stopDeadline = clock.now.advanced(by: settings.drainTimeout)
                logger.info("stopping: finishing the source transaction in progress", metadata: ["outflow.in_transaction": "\(current != nil)"])
            }
            if current == nil, stopDeadline != nil || source.isExhausted {
                try commitGroup(source: source)
                let appended = appendedThrough
                try mode.finish(sink: sink)
                progress.sinkDurable = max(progress.sinkDurable, appended)
                reportProgress(report)
                return
            }
            if let stopDeadline, clock.now >= stopDeadline {
                logger.warning("stop timeout: the open source transaction is abandoned; it will be read again on restart")
                try abortGroup()
                return
            }
            // Between source transactions: the next snapshot chunk, when one is due.
            if current == nil, stopDeadline == nil, let snapshots { try snapshots.readChunkIfDue(now: clock.now) }
            let wait = schedule.wait(now: clock.now, inTransaction: current != nil)
            if wait.sleep > .zero { clock.sleep(for: wait.sleep) }
            let event = try source.next(timeout: wait.readTimeout)
            if schedule.backgroundSyncDue(now: clock.now) {
                let appended = appendedThrough
                do { try sink.sync(recording: nil) } catch { throw PipelineError(error) }
                progress.sinkDurable = max(progress.sinkDurable, appended)
            }
            guard let event else {
                switch schedule.idle(now: clock.now, inTransaction: current != nil) {
                case .commit: try commitGroup(source: source)
                case .makeVisible:
                    do { try sink.flush() } catch { throw PipelineError(error) }
                case .none: break
                }
                reportProgress(report)
                continue
            }
            try handle(event, source: source)
            if current == nil, schedule.mustCommitWithoutPause(now: clock.now, groupBytes: sink.groupBytes) {
                try commitGroup(source: source)
                reportProgress(report)
            }
        }
    }

    /// Hands the progress to the caller, with the spool's figures as they are now.
    private func reportProgress(_ report: (RunnerProgress) -> Void) {
        progress.spooledTransactions = spool.openTransactions
        progress.spoolBytes = spool.bytesOnDisk
        if let snapshots {
            progress.snapshotRows = snapshots.rowsEmitted
            progress.snapshotStatus = snapshots.status
        }
        report(progress)
    }

    private func handle(_ event: SourceEvent, source: any ChangeSource) throws(PipelineError) {
        if let xid = streamXID, case .change(let change) = event {
            // A chunk of a streamed in-progress transaction: kept aside until it commits.
            if stagesStreamedChanges {
                try stageStreamed(change, transaction: xid)
            } else {
                do { try spool.append(change, transaction: xid) } catch { throw PipelineError(.spool, "\(error)", underlying: error) }
            }
            return
        }
        switch event {
        case .begin(let begin):
            current = begin
            progress.received = max(progress.received, begin.commitLSN)
            // Already in the sink (the source sends from its confirmed position, which may be
            // behind the sink's): skip it whole.
            skippingCurrent = begin.commitLSN < committedPosition
            if skippingCurrent { progress.skippedTransactions += 1 }
            snapshotSequence = 0
            schedule.transactionBegan(now: clock.now)
        case .change(let change):
            guard let open = current, !skippingCurrent else { return }
            snapshots?.note(change)
            let origin = EventOrigin(
                commitLSN: open.commitLSN, xid: open.xid, commitTime: open.commitTime, table: change.table,
                operation: change.operation, sequence: change.sequence)
            progress.events += 1
            if settings.changelog {
                do { try sink.writeChangelog(change, origin: origin) } catch { throw PipelineError(error) }
            }
            let commit = origin.commit
            try processor.process(PipelineEvent(origin: origin, change: change)) { outcome throws(PipelineError) in
                try write(outcome, commit: commit)
            }
        case .commit(let commit):
            current = nil
            if skippingCurrent {
                skippingCurrent = false
                // In the sink already: as durable as anything the sink holds.
                source.acknowledge(durable: commit.endLSN)
                return
            }
            progress.sourceTransactions += 1
            pendingEnd = commit.endLSN
            pendingCommitTime = commit.commitTime
            if schedule.transactionCompleted(now: clock.now) {
                do { try sink.flush() } catch { throw PipelineError(error) }
            }
            if mode.transactionCompleted(end: commit.endLSN, source: source) { progress.durable = commit.endLSN }
        case .message(let message):
            // Logical messages are not pipeline input (heartbeats, other applications'), except
            // the snapshots' own: requests and watermarks, each a transaction of its own.
            guard message.prefix.hasPrefix(SnapshotMessage.watermarkPrefix), let open = current, !skippingCurrent else { break }
            guard let snapshots else {
                if message.prefix == SnapshotMessage.requestPrefix {
                    logger.warning("a snapshot request is ignored: snapshots need guarantee exactly_once", metadata: ["outflow.lsn": "\(message.lsn)"])
                }
                break
            }
            try writeSnapshot(snapshots.handle(message), in: open)
        case .restarted(let resume):
            if mode.keepsGroupOnReconnect {
                logger.warning("source reconnected; the group read so far is written", metadata: ["outflow.resume": "\(resume)"])
                try writeGroupOnReconnect(source: source)
            } else {
                logger.warning("source reconnected; the open group is dropped and read again", metadata: ["outflow.resume": "\(resume)"])
                try abortGroup()
            }
        case .streamStart(let xid, _):
            streamXID = xid
        case .streamStop:
            streamXID = nil
        case .streamAbort(let xid, let subtransaction):
            spool.abort(xid, subtransaction: subtransaction)
        case .streamCommit(let commit):
            try handleStreamCommit(commit, source: source)
        case .beginPrepare, .prepare, .commitPrepared, .rollbackPrepared:
            throw PipelineError(.unsupportedSourceEvent, "the source sent a prepared transaction, which this pipeline does not request")
        }
    }

    /// The streamed transaction reaches the sink now, in commit order, like any other.
    private func handleStreamCommit(_ commit: TransactionCommit, source: any ChangeSource) throws(PipelineError) {
        progress.streamedTransactions += 1
        // Its changes went through the stages as they streamed: their keys are gone, so a
        // snapshot chunk whose window this commit falls in is read again.
        if stagesStreamedChanges { snapshots?.changesWithoutKeys() }
        try handle(.begin(TransactionBegin(xid: commit.xid, commitLSN: commit.commitLSN, commitTime: commit.commitTime)), source: source)
        let position = SourceCommit(lsn: commit.commitLSN, xid: commit.xid, time: commit.commitTime)
        if skippingCurrent {
            spool.abort(commit.xid, subtransaction: commit.xid)
        } else {
            do {
                let staged = try spool.commit(commit.xid) { item in
                    switch item {
                    case .change(let change): try handle(.change(change), source: source)
                    case .record(let record, let deadLetter):
                        try write(deadLetter.map { .deadLetter(record, $0) } ?? .record(record), commit: position)
                    case .failure(let failure): try write(.failure(failure), commit: position)
                    }
                }
                progress.events += staged
            } catch let error as PipelineError {
                throw error
            } catch {
                throw PipelineError(.spool, "reading back streamed transaction \(commit.xid) failed: \(error)", underlying: error)
            }
        }
        try handle(.commit(commit), source: source)
    }

    /// Why a streamed transaction's changes cannot go through the stages before it commits;
    /// nil when they can.
    static func reasonToStageAtCommit(graph: CompiledStageGraph, changelog: Bool) -> String? {
        if changelog { return "the changelog's records name the commit" }
        if let stage = graph.statefulStages.first { return "stage \(stage.id) keeps state, which must follow commit order" }
        if let stage = graph.stages.first(where: \.readsCommitPosition) { return "stage \(stage.id) reads the commit position" }
        return nil
    }

    /// Runs a change of streamed transaction `xid` through the stages before the transaction
    /// commits, and spools what comes out: records without the commit position, dead letters,
    /// and failures that stop the pipeline only if the transaction commits with them.
    private func stageStreamed(_ change: SourceChange, transaction xid: UInt32) throws(PipelineError) {
        do {
            try spool.countStagedEvent(subtransaction: change.xid, transaction: xid)
            let event = PipelineEvent(origin: .uncommitted(xid: xid, change: change), change: change)
            try processor.process(event) { outcome throws(PipelineError) in
                do {
                    switch outcome {
                    case .record(let record): try spool.append(record, deadLetter: nil, subtransaction: change.xid, transaction: xid)
                    case .deadLetter(let record, let note): try spool.append(record, deadLetter: note, subtransaction: change.xid, transaction: xid)
                    case .failure(let failure): try spool.append(failure, subtransaction: change.xid, transaction: xid)
                    }
                } catch {
                    throw PipelineError(.spool, "\(error)", underlying: error)
                }
            }
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(.spool, "\(error)", underlying: error)
        }
    }

    /// Writes what a change became, now that its transaction's commit is known.
    private func write(_ outcome: EventProcessor.Outcome, commit: SourceCommit) throws(PipelineError) {
        switch outcome {
        case .record(let record):
            do { try sink.write(record, commit: commit) } catch { throw PipelineError(error) }
            progress.records += 1
        case .deadLetter(let record, let note):
            do { try sink.write(record, commit: commit) } catch { throw PipelineError(error) }
            progress.deadLetters += 1
            logger.warning("event sent to the dead-letter topic", metadata: [
                "outflow.stage": "\(note.stage)", "outflow.error": "\(note.reason)", "outflow.lsn": "\(commit.lsn)",
            ])
        case .failure(let failure):
            throw PipelineError(.stageFailed, EventProcessor.failureMessage(failure, position: commit.lsn.description, xid: commit.xid))
        }
    }

    /// Writes what a snapshot message became, inside the message's transaction: its rows go
    /// through the stages like streamed inserts (marked as reads), its control lines straight
    /// to the `__snapshots` topic.
    private func writeSnapshot(_ emissions: [SnapshotCoordinator.Emission], in open: TransactionBegin) throws(PipelineError) {
        let commit = SourceCommit(lsn: open.commitLSN, xid: open.xid, time: open.commitTime)
        for emission in emissions {
            switch emission {
            case .row(let table, let row, let job, let mark):
                let change = SourceChange(
                    operation: .insert, xid: open.xid, lsn: open.commitLSN, sequence: snapshotSequence, relation: table.relation, newTuple: row)
                snapshotSequence += 1
                var origin = EventOrigin(
                    commitLSN: open.commitLSN, xid: open.xid, commitTime: open.commitTime, table: table.name, operation: .insert, sequence: change.sequence)
                origin.snapshot = mark
                var event = PipelineEvent(origin: origin, change: change)
                event.setHeader(SnapshotCoordinator.headerKey, Array(job.utf8))
                progress.events += 1
                try processor.process(event) { outcome throws(PipelineError) in try write(outcome, commit: commit) }
            case .control(let job, let value):
                var event = PipelineEvent(origin: EventOrigin(
                    commitLSN: open.commitLSN, xid: open.xid, commitTime: open.commitTime, table: SnapshotCoordinator.controlTable,
                    operation: .insert, sequence: snapshotSequence))
                event.topic = SnapshotCoordinator.controlTopic
                event.key = Array(job.utf8)
                event.value = Array(value.jsonText.utf8)
                do { try sink.write(try sink.prepare(event), commit: commit) } catch { throw PipelineError(error) }
            }
        }
    }

    private func commitGroup(source: any ChangeSource) throws(PipelineError) {
        guard let end = pendingEnd else { return }
        let started = clock.now
        schedule.commitStarted(now: started)
        CrashPoint.hit("runner.before-commit")
        var group = GroupCommit(sink: sink, source: source, stages: graph.statefulStages, logger: logger, committedPosition: committedPosition)
        group.snapshot = snapshots?.checkpointProgress
        try mode.commitGroup(through: end, &group)
        // A group that wrote nothing committed no checkpoint: its snapshot progress goes with
        // the next one (read again after a crash, a chunk whose rows all dropped out is harmless).
        if group.wroteToSink { snapshots?.didCommit() }
        committedPosition = group.committedPosition
        if group.wroteToSink {
            progress.logCommits += 1
            progress.lastCommitDuration = clock.now - started
        }
        progress.durable = end
        // A mode whose group commit only appends (at_most_once) is durable at its next sync.
        if mode.groupCommitIsDurable { progress.sinkDurable = end } else { appendedThrough = end }
        progress.durableCommitTime = pendingCommitTime ?? progress.durableCommitTime
        pendingEnd = nil
        pendingCommitTime = nil
        schedule.groupEnded()
    }

    /// A reconnect in a mode that acknowledges on receipt: the completed transactions of the
    /// open group are committed as at any group's end. A transaction the reconnect cut mid-way
    /// keeps what it wrote (its changes committed in the source; nothing of it is taken back),
    /// and when the source sends it again it is skipped if any of it reached the sink — its
    /// remaining changes are the one loss a reconnect can cause, and only when it falls inside
    /// a transaction that produced records. Otherwise it is read again whole.
    private func writeGroupOnReconnect(source: any ChangeSource) throws(PipelineError) {
        try commitGroup(source: source)
        if let cut = current, !skippingCurrent {
            do { try sink.flush() } catch { throw PipelineError(error) }
            let wrote = sink.recordsInGroup
            sink.endGroup()
            for stage in graph.statefulStages { stage.didCommit(recorded: false) }
            committedPosition = mode.positionAfterAbort(committedPosition, sink: sink)
            if committedPosition > cut.commitLSN {
                logger.warning("the reconnect cut a transaction after \(wrote) of its records; its remaining changes are skipped when sent again (at_most_once)", metadata: [
                    "outflow.xid": "\(cut.xid)", "outflow.lsn": "\(cut.commitLSN)",
                ])
            }
        }
        forgetOpenGroup()
    }

    private func abortGroup() throws(PipelineError) {
        do { try sink.abort() } catch { throw PipelineError(error) }
        committedPosition = mode.positionAfterAbort(committedPosition, sink: sink)
        for stage in graph.statefulStages {
            do { try stage.didAbort() } catch { throw PipelineError(.checkpoint, "\(error)", underlying: error) }
        }
        snapshots?.didAbort()
        forgetOpenGroup()
    }

    /// What the runner holds of the source's open group, let go: the source sends everything
    /// after its acknowledged position again, streamed transactions included.
    private func forgetOpenGroup() {
        streamXID = nil
        spool.reset()
        current = nil
        skippingCurrent = false
        pendingEnd = nil
        pendingCommitTime = nil
        schedule.groupEnded()
    }
}
