import BinaryIO
import Foundation
import FaultInjection
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
    public var logCommits = 0
    /// The last source position made durable (Commit end LSN).
    public var durable: LSN = .zero
    /// The newest commit LSN seen from the source.
    public var received: LSN = .zero
}

/// The pipeline loop: source transactions → stage graph → the log, in groups of source
/// transactions, with one code path per delivery guarantee (`Settings.guarantee`):
///
/// - `exactly_once`: one log transaction per group → commit record carrying the source
///   position and stage state (the commit point) → only then the position is acknowledged
///   to Postgres. On start: resume from the last commit record, skip every source
///   transaction whose commit LSN is before it.
/// - `at_least_once`: plain (non-transactional, idempotent) appends at a source Commit at
///   most every `visibilityInterval` (5 ms), so records are visible before they are durable
///   and batches stay large under load; at the group's end fsync, then the position is written to
///   `outflow.position` (atomic replace), then acknowledged. A crash between the appends and
///   the position file makes the restart read those transactions again: duplicates, no loss.
///   Stage state (dedupe) is kept in memory only.
/// - `at_most_once`: each source Commit is acknowledged on receipt (`markDurable`); at the
///   group's end a status update is sent, then the group is appended with no fsync (the log
///   is fsynced every `backgroundSyncInterval`, off the acknowledgement path). On start it
///   skips every source transaction at or before the highest source position found in the
///   log, so nothing written is ever written twice; what was acknowledged but not written (or
///   not yet fsynced, on an OS crash) is lost. Stage state is kept in memory only.
///
/// Group commit: source transactions that arrive back to back share one group (one set of
/// fsyncs); the group commits as soon as the stream pauses, or when it reaches
/// `groupMaxBytes` or `groupMaxLatency`, and only ever between source transactions.
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
        /// began (`sink.log.min_commit_interval`): under a steady load of small transactions,
        /// each of which would otherwise be followed by a pause and so commit alone, the group
        /// fills for this long instead, and the commits (fsyncs, which cost CPU as well as
        /// time) stay at most 1 / spacing per second. An isolated transaction, long after the
        /// previous commit, is not delayed.
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

        public init(pipelineName: String, deadLetterTopic: String) {
            self.pipelineName = pipelineName
            self.deadLetterTopic = deadLetterTopic
        }
    }

    public let settings: Settings
    let graph: CompiledStageGraph
    let sink: LogSink
    let logger: Logger
    /// The position the log holds: every source transaction whose commit is before it is in
    /// the log already and is skipped when the source sends it again.
    public private(set) var committedPosition: LSN
    /// Where the replication stream should start (the source's durable position): the
    /// committed position, or `.zero` (the slot's confirmed position) for at_most_once, whose
    /// committed position is a commit LSN, not a Commit end.
    public var sourceStart: LSN { settings.guarantee == .atMostOnce ? .zero : committedPosition }
    private var lastSync = ContinuousClock.now
    private var lastVisibleFlush = ContinuousClock.now
    public private(set) var progress = RunnerProgress()

    /// Streamed in-progress transactions, on disk until they commit.
    private let spool = StreamedTransactionSpool(
        directory: FileManager.default.temporaryDirectory.appendingPathComponent("outflow-spool-\(ProcessInfo.processInfo.processIdentifier)").path)
    /// The transaction of the stream block being read (between Stream Start and Stream Stop).
    private var streamXID: UInt32?
    /// A streamed transaction's changes go through the stages as they arrive, and only the
    /// records are spooled (to be completed with the commit position at Stream Commit) — unless
    /// a stage keeps state or reads the commit position, or the changelog is written (its
    /// records name the commit): then the changes are spooled and staged at Stream Commit.
    /// Staging as the chunks arrive overlaps the stages with the server still decoding the
    /// transaction, instead of starting them when it has finished (docs/performance.md).
    public let stagesStreamedChanges: Bool

    /// Transaction being read from the source (nil between transactions).
    private var current: TransactionBegin?
    private var skippingCurrent = false
    /// End LSN of the last source transaction read completely but not yet committed to the log.
    private var pendingEnd: LSN?
    private var groupStartedAt: ContinuousClock.Instant?
    private var lastCommitStartedAt: ContinuousClock.Instant?

    let rows: ChangeRowDecoding

    public init(
        graph: CompiledStageGraph, writer: LogWriter, settings: Settings, rowDecoder: RowDecoder = RowDecoder(connectionString: nil),
        logger: Logger = Logger(label: "outflow.pipeline")
    ) throws(PipelineRunError) {
        self.graph = graph
        self.rows = ChangeRowDecoding(decoder: rowDecoder, graph: graph)
        let stagedAtCommitBecause = Self.reasonToStageAtCommit(graph: graph, changelog: settings.changelog)
        self.stagesStreamedChanges = stagedAtCommitBecause == nil
        if let stagedAtCommitBecause {
            logger.info("large (streamed) transactions go through the stages at their commit: \(stagedAtCommitBecause)")
        }
        self.settings = settings
        self.logger = logger
        self.sink = LogSink(
            writer: writer, partitionCount: settings.partitions, batchRecords: settings.batchRecords, batchBytes: settings.batchBytes,
            pipelineName: settings.pipelineName, databaseName: settings.databaseName)
        var fromCommitRecord = LSN.zero
        if let metadata = writer.lastCommittedMetadata {
            do {
                fromCommitRecord = try Checkpoint(decoding: metadata).sourceEnd
            } catch {
                throw PipelineRunError(message: "the log at \(writer.directory) holds a commit record Outflow cannot read: \(error)")
            }
        }
        // A log may have been written in another mode before: each mode also honours what the
        // others left (their positions only ever name data that is in the log).
        switch settings.guarantee {
        case .exactlyOnce:
            committedPosition = fromCommitRecord
        case .atLeastOnce:
            committedPosition = max(fromCommitRecord, try SourcePositionFile.read(directory: writer.directory) ?? .zero)
        case .atMostOnce:
            let highest: LSN?
            do { highest = try LogReader(directory: writer.directory).highestSourceLSN().map { LSN($0) } } catch {
                throw PipelineRunError(message: "reading the end of the log at \(writer.directory) failed: \(error)", underlying: error)
            }
            // Skip every transaction whose commit LSN is at or before the highest in the log.
            committedPosition = max(fromCommitRecord, highest.map { LSN($0.rawValue + 1) } ?? .zero)
        }
        sink.plain = settings.guarantee != .exactlyOnce
        progress.durable = committedPosition
        if settings.guarantee == .exactlyOnce { try restoreStageState(directory: writer.directory) }
    }

    /// Stateful stages (dedupe) get back what every retained commit record says they added,
    /// oldest first: exactly the state that was committed, nothing from aborted transactions.
    private func restoreStageState(directory: String) throws(PipelineRunError) {
        let stages = graph.statefulStages
        guard !stages.isEmpty, committedPosition != .zero else { return }
        do {
            for record in try LogReader(directory: directory).commitHistory() {
                let checkpoint = try Checkpoint(decoding: record.metadata)
                for stage in stages {
                    if let changes = checkpoint.stageChanges[stage.id] { try stage.restore(from: changes) }
                }
            }
        } catch {
            throw PipelineRunError(message: "restoring the pipeline's stage state from \(directory) failed: \(error)", underlying: error)
        }
    }

    /// Runs until `shouldStop` turns true (then drains and commits), or an error.
    ///
    /// `onRecord`, when given, sees every record written, as a JSON line (for `--dry-run`).
    public func run(
        source: ReplicationSession, shouldStop: () -> Bool, report: (RunnerProgress) -> Void = { _ in },
        onRecord: ((String) -> Void)? = nil
    ) throws(PipelineRunError) {
        sink.onRecord = onRecord
        var stopDeadline: ContinuousClock.Instant?
        while true {
            if stopDeadline == nil, shouldStop() {
                stopDeadline = .now.advanced(by: settings.drainTimeout)
                logger.info("stopping: finishing the source transaction in progress", metadata: ["outflow.in_transaction": "\(current != nil)"])
            }
            if let deadline = stopDeadline {
                if current == nil {
                    try commitGroup(source: source)
                    if settings.guarantee == .atMostOnce { try syncLog() }
                    return
                }
                if ContinuousClock.now >= deadline {
                    logger.warning("stop timeout: the open source transaction is abandoned; it will be read again on restart")
                    try abortGroup()
                    return
                }
            }
            // Wait for more only when nothing is pending: a pause in the stream commits the
            // group, once the spacing since the previous commit has passed.
            var timeout: Int32 = 200
            if pendingEnd != nil && current == nil {
                let wait = timeUntilCommitAllowed()
                if settings.guarantee == .exactlyOnce {
                    // Nothing becomes visible before the group commits, and it cannot commit
                    // before the spacing has passed: sleep it out and read what arrived meanwhile
                    // in one go, rather than waking for every transaction (fewer wakeups and
                    // system calls, for the walsender too, which then sends in larger writes).
                    if wait > .zero { sleep(for: wait) }
                    timeout = 0
                } else {
                    // The other modes show (or acknowledge) each transaction as it arrives: wait
                    // for the next one, but no longer than until the group may commit.
                    timeout = Int32(min(1000, wait.millisecondsRoundedUp))
                }
            }
            let event: SourceEvent?
            do { event = try source.next(timeoutMilliseconds: timeout) } catch {
                throw PipelineRunError(message: "replication failed: \(error)", underlying: error)
            }
            if settings.guarantee == .atMostOnce, ContinuousClock.now - lastSync >= settings.backgroundSyncInterval {
                try syncLog()
            }
            guard let event else {
                if current == nil {
                    if timeUntilCommitAllowed() == .zero {
                        try commitGroup(source: source)
                    } else if settings.guarantee == .atLeastOnce, pendingEnd != nil {
                        // Its fsync waits for the spacing; the records need not: visible now.
                        do { try sink.flush() } catch { throw PipelineRunError(message: error.message, underlying: error) }
                        lastVisibleFlush = .now
                    }
                }
                report(progress)
                continue
            }
            try handle(event, source: source)
            if current == nil, let started = groupStartedAt {
                // A stream that never pauses still commits: `groupMaxLatency` after the group
                // began, or after it was allowed to commit if that is later (a group that waited
                // out the spacing first reads what arrived meanwhile).
                let allowed = commitAllowedAt.map { max(started, $0) } ?? started
                if sink.writer.transactionBytes >= settings.groupMaxBytes || ContinuousClock.now - allowed >= settings.groupMaxLatency {
                    try commitGroup(source: source)
                }
            }
        }
    }

    private func handle(_ event: SourceEvent, source: ReplicationSession) throws(PipelineRunError) {
        if let xid = streamXID, case .change(let change) = event {
            // A chunk of a streamed in-progress transaction: kept aside until it commits.
            do {
                if stagesStreamedChanges {
                    try stageStreamed(change, transaction: xid)
                } else {
                    try spool.append(change, transaction: xid)
                }
            } catch {
                throw PipelineRunError(message: error.message, underlying: error)
            }
            return
        }
        switch event {
        case .begin(let begin):
            current = begin
            progress.received = max(progress.received, begin.commitLSN)
            // Already in the log (the source sends from its confirmed position, which may be
            // behind the log's): skip it whole.
            skippingCurrent = begin.commitLSN < committedPosition
            if skippingCurrent { progress.skippedTransactions += 1 }
            if groupStartedAt == nil { groupStartedAt = .now }
        case .change(let change):
            guard let open = current, !skippingCurrent else { return }
            let origin = EventOrigin(
                commitLSN: open.commitLSN, xid: open.xid, commitTime: open.commitTime, table: change.table,
                operation: change.operation, sequence: change.sequence)
            progress.events += 1
            if settings.changelog {
                do { try sink.write(ChangelogCodec.record(for: change, origin: origin), to: Self.changelogPartition) } catch {
                    throw PipelineRunError(message: error.message, underlying: error)
                }
            }
            var event = PipelineEvent(origin: origin, change: change)
            do { try rows.decode(&event) } catch {
                try deadLetter(event, reason: "\(error)", stage: "source")
                return
            }
            do {
                try graph.run(event, sink: { output in try writeOrDeadLetter(output) }, failed: { event, failure in
                    if failure.stopsPipeline { throw PipelineRunError(message: Self.failureMessage(stage: failure.stageID, reason: failure.message, origin: event.origin)) }
                    try deadLetter(event, reason: failure.message, stage: failure.stageID)
                })
            } catch let error as PipelineRunError {
                throw error
            } catch {
                throw PipelineRunError(message: "\(error)", underlying: error)
            }
        case .commit(let commit):
            current = nil
            if skippingCurrent {
                skippingCurrent = false
                // In the log already: as durable as anything the log holds.
                source.markDurable(commit.endLSN)
                return
            }
            progress.sourceTransactions += 1
            pendingEnd = commit.endLSN
            switch settings.guarantee {
            case .exactlyOnce:
                break
            case .atLeastOnce:
                // Visible soon (appended every `visibilityInterval` at a source Commit, and at
                // every pause when the group commits); durable and acknowledged at the group's end.
                if ContinuousClock.now - lastVisibleFlush >= settings.visibilityInterval {
                    do { try sink.flush() } catch { throw PipelineRunError(message: error.message, underlying: error) }
                    lastVisibleFlush = .now
                }
            case .atMostOnce:
                // Acknowledged on receipt, before anything is written.
                source.markDurable(commit.endLSN)
                progress.durable = commit.endLSN
            }
        case .message:
            break  // logical messages (heartbeats, other applications') are not pipeline input
        case .restarted(let resume):
            logger.warning("source reconnected; the open log transaction is aborted and read again", metadata: ["outflow.resume": "\(resume)"])
            try abortGroup()
        case .streamStart(let xid, _):
            streamXID = xid
        case .streamStop:
            streamXID = nil
        case .streamAbort(let xid, let subtransaction):
            spool.abort(xid, subtransaction: subtransaction)
        case .streamCommit(let commit):
            // The streamed transaction reaches the log now, in commit order, like any other.
            progress.streamedTransactions += 1
            try handle(.begin(TransactionBegin(xid: commit.xid, commitLSN: commit.commitLSN, commitTime: commit.commitTime)), source: source)
            let position = SourceCommit(lsn: commit.commitLSN, xid: commit.xid, time: commit.commitTime)
            if skippingCurrent {
                spool.abort(commit.xid, subtransaction: commit.xid)
            } else {
                do {
                    let staged = try spool.commit(commit.xid) { item in
                        switch item {
                        case .change(let change): try handle(.change(change), source: source)
                        case .record(let record, let deadLetter): try writeStaged(record, deadLetter: deadLetter, commit: position)
                        case .failure(let failure):
                            throw PipelineRunError(message: Self.failureMessage(
                                stage: failure.stage, reason: failure.reason, table: failure.table, position: commit.commitLSN.description,
                                xid: commit.xid, sequence: failure.sequence))
                        }
                    }
                    progress.events += staged
                } catch let error as PipelineRunError {
                    throw error
                } catch {
                    throw PipelineRunError(message: "reading back streamed transaction \(commit.xid) failed: \(error)", underlying: error)
                }
            }
            try handle(.commit(commit), source: source)
        case .beginPrepare, .prepare, .commitPrepared, .rollbackPrepared:
            throw PipelineRunError(message: "the source sent a prepared transaction, which this pipeline does not request")
        }
    }

    static let changelogPartition = try! TopicPartition(topic: ChangelogCodec.topic, partition: 0)

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
    private func stageStreamed(_ change: SourceChange, transaction xid: UInt32) throws(StreamedTransactionSpool.SpoolError) {
        try spool.countStagedEvent(subtransaction: change.xid, transaction: xid)
        var event = PipelineEvent(origin: .uncommitted(xid: xid, change: change), change: change)
        do { try rows.decode(&event) } catch {
            return try stageDeadLetter(event, reason: "\(error)", stage: "source", subtransaction: change.xid)
        }
        do {
            try graph.run(
                event,
                sink: { output throws(StreamedTransactionSpool.SpoolError) in try stageOutput(output, subtransaction: change.xid) },
                failed: { event, failure throws(StreamedTransactionSpool.SpoolError) in
                    if failure.stopsPipeline { return try stageFailure(event, reason: failure.message, stage: failure.stageID, subtransaction: change.xid) }
                    try stageDeadLetter(event, reason: failure.message, stage: failure.stageID, subtransaction: change.xid)
                })
        } catch let error as StreamedTransactionSpool.SpoolError {
            throw error
        } catch {
            throw .init(message: "\(error)")
        }
    }

    private func stageOutput(_ event: PipelineEvent, subtransaction: UInt32) throws(StreamedTransactionSpool.SpoolError) {
        let record: PendingRecord
        do { record = try sink.prepare(event) } catch {
            guard error.isEventError else { return try stageFailure(event, reason: error.message, stage: "sink", subtransaction: subtransaction) }
            return try stageDeadLetter(event, reason: error.message, stage: "sink", subtransaction: subtransaction)
        }
        try spool.append(record, deadLetter: nil, subtransaction: subtransaction, transaction: event.origin.xid)
    }

    private func stageDeadLetter(_ event: PipelineEvent, reason: String, stage: String, subtransaction: UInt32) throws(StreamedTransactionSpool.SpoolError) {
        guard settings.deadLetterOnFailure else { return try stageFailure(event, reason: reason, stage: stage, subtransaction: subtransaction) }
        let record: PendingRecord
        do { record = try sink.prepare(event.deadLetter(topic: settings.deadLetterTopic, stage: stage, reason: reason)) } catch {
            return try stageFailure(event, reason: "its dead letter could not be written: \(error.message) (the event's own failure: \(reason))", stage: stage, subtransaction: subtransaction)
        }
        try spool.append(record, deadLetter: DeadLetterNote(stage: stage, reason: reason), subtransaction: subtransaction, transaction: event.origin.xid)
    }

    private func stageFailure(_ event: PipelineEvent, reason: String, stage: String, subtransaction: UInt32) throws(StreamedTransactionSpool.SpoolError) {
        let failure = StagedFailure(stage: stage, reason: reason, table: event.origin.table.description, sequence: event.origin.sequence)
        try spool.append(failure, subtransaction: subtransaction, transaction: event.origin.xid)
    }

    /// Writes a record staged while its transaction streamed, now that it committed.
    private func writeStaged(_ record: PendingRecord, deadLetter: DeadLetterNote?, commit: SourceCommit) throws(PipelineRunError) {
        do { try sink.write(record, commit: commit) } catch { throw PipelineRunError(message: error.message, underlying: error) }
        guard let deadLetter else {
            progress.records += 1
            return
        }
        progress.deadLetters += 1
        logger.warning("event sent to the dead-letter topic", metadata: [
            "outflow.stage": "\(deadLetter.stage)", "outflow.error": "\(deadLetter.reason)", "outflow.lsn": "\(commit.lsn)",
        ])
    }

    /// Why the pipeline stops on an event.
    static func failureMessage(stage: String, reason: String, origin: EventOrigin) -> String {
        failureMessage(stage: stage, reason: reason, table: origin.table.description, position: origin.positionText, xid: origin.xid, sequence: origin.sequence)
    }

    static func failureMessage(stage: String, reason: String, table: String, position: String, xid: UInt32, sequence: Int) -> String {
        "stage \(stage) failed on the event of \(table) at \(position) (xid \(xid), change #\(sequence)): \(reason)"
    }

    private func writeOrDeadLetter(_ event: PipelineEvent) throws(PipelineRunError) {
        do {
            try sink.write(event)
            progress.records += 1
        } catch let error where error.isEventError {
            try deadLetter(event, reason: error.message, stage: "sink")
        } catch {
            throw PipelineRunError(message: error.message, underlying: error)
        }
    }

    private func deadLetter(_ event: PipelineEvent, reason: String, stage: String) throws(PipelineRunError) {
        guard settings.deadLetterOnFailure else {
            throw PipelineRunError(message: Self.failureMessage(stage: stage, reason: reason, origin: event.origin))
        }
        let letter = event.deadLetter(topic: settings.deadLetterTopic, stage: stage, reason: reason)
        do { try sink.write(letter) } catch { throw PipelineRunError(message: error.message, underlying: error) }
        progress.deadLetters += 1
        logger.warning("event sent to the dead-letter topic", metadata: [
            "outflow.stage": "\(stage)", "outflow.error": "\(reason)", "outflow.lsn": "\(event.origin.commitLSN)",
        ])
    }

    /// When the group may commit (`commitSpacing` after the previous commit began); nil when
    /// nothing holds it back. at_most_once is not spaced: its group commit only appends (no
    /// fsync on that path).
    private var commitAllowedAt: ContinuousClock.Instant? {
        guard settings.guarantee != .atMostOnce else { return nil }
        return lastCommitStartedAt?.advanced(by: settings.commitSpacing)
    }

    /// How long until a pause may commit the group; zero when it may now.
    private func timeUntilCommitAllowed() -> Duration {
        guard let allowed = commitAllowedAt else { return .zero }
        return max(.zero, allowed - ContinuousClock.now)
    }

    private func commitGroup(source: ReplicationSession) throws(PipelineRunError) {
        guard let end = pendingEnd else { return }
        lastCommitStartedAt = .now
        CrashPoint.hit("runner.before-commit")
        switch settings.guarantee {
        case .exactlyOnce: try commitGroupExactlyOnce(end: end, source: source)
        case .atLeastOnce: try commitGroupAtLeastOnce(end: end, source: source)
        case .atMostOnce: try commitGroupAtMostOnce(end: end, source: source)
        }
        pendingEnd = nil
        groupStartedAt = nil
    }

    /// at_least_once: the group's records are appended already (at each source Commit);
    /// fsync them, then record the position beside the log, then acknowledge it.
    private func commitGroupAtLeastOnce(end: LSN, source: ReplicationSession) throws(PipelineRunError) {
        do { try sink.flush() } catch { throw PipelineRunError(message: error.message, underlying: error) }
        if sink.recordsInTransaction > 0 {
            do { try sink.writer.sync() } catch {
                throw PipelineRunError(message: "syncing the log failed: \(error)", underlying: error)
            }
            try SourcePositionFile.write(end, directory: sink.writer.directory)
            sink.resetTransactionCount()
            progress.logCommits += 1
        }
        committedPosition = end
        CrashPoint.hit("runner.after-commit")
        for stage in graph.statefulStages { stage.didCommit() }
        source.markDurable(end)
        CrashPoint.hit("runner.after-mark-durable")
        progress.durable = end
    }

    /// at_most_once: every Commit of the group is acknowledged already; make sure Postgres has
    /// been told, then append the group without waiting for any fsync.
    private func commitGroupAtMostOnce(end: LSN, source: ReplicationSession) throws(PipelineRunError) {
        do { try source.sendStatus(force: true) } catch {
            // The acknowledgement could not be sent: nothing is lost by writing anyway (the
            // position stays unacknowledged and the restart skips what the log holds).
            logger.warning("sending the acknowledgement failed; writing anyway", metadata: ["outflow.error": "\(error)"])
        }
        CrashPoint.hit("runner.amo.after-ack")
        do { try sink.flush() } catch { throw PipelineRunError(message: error.message, underlying: error) }
        CrashPoint.hit("runner.amo.after-write")
        if let highest = sink.highestAppended { committedPosition = max(committedPosition, LSN(highest.rawValue + 1)) }
        if sink.recordsInTransaction > 0 { progress.logCommits += 1 }
        sink.resetTransactionCount()
        for stage in graph.statefulStages { stage.didCommit() }
        progress.durable = end
    }

    /// at_most_once's background fsync: on the pipeline thread, at most every
    /// `backgroundSyncInterval`, never on the acknowledgement path.
    private func syncLog() throws(PipelineRunError) {
        lastSync = .now
        do { try sink.writer.sync() } catch { throw PipelineRunError(message: "syncing the log failed: \(error)", underlying: error) }
    }

    /// exactly_once: data, then the commit record (the commit point), then tells the source
    /// the position is durable.
    private func commitGroupExactlyOnce(end: LSN, source: ReplicationSession) throws(PipelineRunError) {
        var changes: [String: [UInt8]] = [:]
        for stage in graph.statefulStages {
            if let pending = stage.pendingChanges() { changes[stage.id] = pending }
        }
        let checkpoint = Checkpoint(sourceEnd: end, stageChanges: changes)
        do {
            if try sink.commit(metadata: checkpoint.encoded()) != nil {
                progress.logCommits += 1
                committedPosition = end
            }
        } catch {
            throw PipelineRunError(message: error.message, underlying: error)
        }
        CrashPoint.hit("runner.after-commit")
        for stage in graph.statefulStages { stage.didCommit() }
        // Nothing written (every event filtered out) needs no commit record: the position is
        // still safe to acknowledge, as those transactions produce nothing when read again.
        source.markDurable(end)
        CrashPoint.hit("runner.after-mark-durable")
        progress.durable = end
    }

    private func abortGroup() throws(PipelineRunError) {
        streamXID = nil
        spool.reset()  // the source sends streamed transactions again too
        do { try sink.abort() } catch { throw PipelineRunError(message: error.message, underlying: error) }
        // at_most_once's appends are plain: what a full batch already put in the log stays
        // there, so the source's resending of it must be skipped (never written twice).
        if settings.guarantee == .atMostOnce, let highest = sink.highestAppended {
            committedPosition = max(committedPosition, LSN(highest.rawValue + 1))
        }
        for stage in graph.statefulStages { stage.didAbort() }
        current = nil
        skippingCurrent = false
        pendingEnd = nil
        groupStartedAt = nil
    }
}

public struct PipelineRunError: Error, CustomStringConvertible, @unchecked Sendable {
    public var message: String
    public var underlying: (any Error)?

    public init(message: String, underlying: (any Error)? = nil) {
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
