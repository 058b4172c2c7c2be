import FaultInjection
import Logging
import PGOutput

/// A delivery guarantee as a type: where the pipeline resumes, how its group commit orders
/// write, sync and acknowledgement, and the commit timing it needs. The runner asks its mode
/// and never branches on the guarantee itself.
protocol DeliveryMode {
    /// Writes go into sink transactions committed with a checkpoint (otherwise: plain appends).
    var transactional: Bool { get }
    /// Stateful stages get back the state of every retained checkpoint on start.
    var restoresStageState: Bool { get }
    func schedule(_ settings: PipelineRunner.Settings) -> GroupCommitSchedule.Settings

    /// The position the sink holds: every source transaction whose commit LSN is before it is
    /// in the sink already and is skipped when the source sends it again.
    func resumePosition(sink: any Sink) throws(PipelineError) -> LSN
    /// Where the source should start streaming (its durable position).
    func sourceStart(committedPosition: LSN) -> LSN

    /// A source transaction was read completely; true when it is acknowledged now.
    func transactionCompleted(end: LSN, source: any ChangeSource) -> Bool
    /// Commits the group that ends with the transaction whose Commit ends at `end`.
    func commitGroup(through end: LSN, _ group: inout GroupCommit) throws(PipelineError)
    /// On a source reconnect, the open group is written (true) rather than dropped and read
    /// again: a mode that acknowledged its transactions on receipt may never see them again.
    var keepsGroupOnReconnect: Bool { get }
    /// The position to skip to after the open group was dropped (a source reconnect).
    func positionAfterAbort(_ committedPosition: LSN, sink: any Sink) -> LSN
    /// A clean stop, after the last group commit.
    func finish(sink: any Sink) throws(PipelineError)
    /// A group commit leaves the group durable in the sink (false: appended, synced later).
    var groupCommitIsDurable: Bool { get }
}

extension DeliveryMode {
    var groupCommitIsDurable: Bool { true }
}

/// What a group commit works on.
struct GroupCommit {
    let sink: any Sink
    let source: any ChangeSource
    let stages: [any StatefulStage]
    let logger: Logger
    var committedPosition: LSN
    /// The group wrote to the sink (a log commit or a sync), for progress.
    var wroteToSink = false
    /// Where the snapshots stand, for the checkpoint (exactly-once only).
    var snapshot: SnapshotProgress?

    /// Each stateful stage's changes in this group, for the checkpoint.
    func stageChanges() throws(PipelineError) -> [String: [UInt8]] {
        var changes: [String: [UInt8]] = [:]
        for stage in stages {
            do {
                if let pending = try stage.pendingChanges() { changes[stage.id] = pending }
            } catch {
                throw PipelineError(.checkpoint, "\(error)", underlying: error)
            }
        }
        return changes
    }

    func stagesCommitted(recorded: Bool = false) { for stage in stages { stage.didCommit(recorded: recorded) } }

    /// After the commit point: the stages' pending state is theirs for good, and the source
    /// may release everything through `end`.
    func committed(through end: LSN, recorded: Bool = false) {
        CrashPoint.hit("runner.after-commit")
        stagesCommitted(recorded: recorded)
        source.acknowledge(durable: end)
        CrashPoint.hit("runner.after-mark-durable")
    }
}

extension DeliveryMode {
    func positionAfterAbort(_ committedPosition: LSN, sink: any Sink) -> LSN { committedPosition }
    func finish(sink: any Sink) throws(PipelineError) {}
    func transactionCompleted(end: LSN, source: any ChangeSource) -> Bool { false }
    var restoresStageState: Bool { false }
    var keepsGroupOnReconnect: Bool { false }
    func sourceStart(committedPosition: LSN) -> LSN { committedPosition }
}

extension DeliveryGuarantee {
    var mode: any DeliveryMode {
        switch self {
        case .exactlyOnce: ExactlyOnceDelivery()
        case .atLeastOnce: AtLeastOnceDelivery()
        case .atMostOnce: AtMostOnceDelivery()
        }
    }
}

/// exactly_once: one sink transaction per group; its commit carries the checkpoint (the last
/// transaction's Commit end LSN and each stateful stage's changes) and is the commit point;
/// only then is the position acknowledged. Resumes from the last checkpoint.
struct ExactlyOnceDelivery: DeliveryMode {
    var transactional: Bool { true }
    var restoresStageState: Bool { true }

    func schedule(_ settings: PipelineRunner.Settings) -> GroupCommitSchedule.Settings {
        GroupCommitSchedule.Settings(
            maxBytes: settings.groupMaxBytes, maxLatency: settings.groupMaxLatency, spacing: settings.commitSpacing, sleepsThroughSpacing: true)
    }

    func resumePosition(sink: any Sink) throws(PipelineError) -> LSN {
        do { return try sink.lastCheckpoint()?.sourceEnd ?? .zero } catch { throw PipelineError(error) }
    }

    func commitGroup(through end: LSN, _ group: inout GroupCommit) throws(PipelineError) {
        let checkpoint = Checkpoint(sourceEnd: end, stageChanges: try group.stageChanges(), snapshot: group.snapshot)
        do {
            if try group.sink.commit(checkpoint) {
                group.wroteToSink = true
                group.committedPosition = end
            }
        } catch {
            throw PipelineError(error)
        }
        // A group that wrote nothing (every event filtered out) needs no commit: the position
        // is still safe to acknowledge, as those transactions produce nothing when read again.
        group.committed(through: end, recorded: group.wroteToSink)
    }
}

/// at_least_once: plain idempotent appends, visible before they are durable; at the group's
/// end sync, then record the position beside the data, then acknowledge. A crash between the
/// appends and the recorded position reads those transactions again: duplicates, no loss.
/// Stage state (dedupe) is kept in memory only.
struct AtLeastOnceDelivery: DeliveryMode {
    var transactional: Bool { false }

    func schedule(_ settings: PipelineRunner.Settings) -> GroupCommitSchedule.Settings {
        GroupCommitSchedule.Settings(
            maxBytes: settings.groupMaxBytes, maxLatency: settings.groupMaxLatency, spacing: settings.commitSpacing, sleepsThroughSpacing: false,
            visibilityInterval: settings.visibilityInterval)
    }

    /// A log written in another mode before is honoured too: each mode's position only ever
    /// names data that is in the log.
    func resumePosition(sink: any Sink) throws(PipelineError) -> LSN {
        do { return max(try sink.lastCheckpoint()?.sourceEnd ?? .zero, try sink.recordedPosition() ?? .zero) } catch { throw PipelineError(error) }
    }

    func commitGroup(through end: LSN, _ group: inout GroupCommit) throws(PipelineError) {
        do {
            try group.sink.flush()
            if group.sink.recordsInGroup > 0 {
                try group.sink.sync(recording: end)
                group.wroteToSink = true
            }
            group.sink.endGroup()
        } catch {
            throw PipelineError(error)
        }
        group.committedPosition = end
        group.committed(through: end)
    }
}

/// at_most_once: each source Commit is acknowledged on receipt; at the group's end the
/// acknowledgement is sent, then the group is appended with no sync (the sink is synced every
/// `backgroundSyncInterval`, off the acknowledgement path). Resumes after the highest source
/// position the sink holds, so nothing is written twice; what was acknowledged but not written
/// (or not yet synced, on an OS crash) is lost. Stage state is kept in memory only.
struct AtMostOnceDelivery: DeliveryMode {
    var transactional: Bool { false }
    var groupCommitIsDurable: Bool { false }
    /// Its acknowledgements may have reached the server already (a status goes out at any
    /// time), so the server may not send the group again: a reconnect is not a crash.
    var keepsGroupOnReconnect: Bool { true }

    func schedule(_ settings: PipelineRunner.Settings) -> GroupCommitSchedule.Settings {
        GroupCommitSchedule.Settings(
            maxBytes: settings.groupMaxBytes, maxLatency: settings.groupMaxLatency, spacing: nil, sleepsThroughSpacing: false,
            backgroundSyncInterval: settings.backgroundSyncInterval)
    }

    func resumePosition(sink: any Sink) throws(PipelineError) -> LSN {
        do {
            let highest = try sink.highestSourcePosition()
            // Skip every transaction whose commit LSN is at or before the highest in the sink.
            return max(try sink.lastCheckpoint()?.sourceEnd ?? .zero, highest.map { LSN($0.rawValue + 1) } ?? .zero)
        } catch {
            throw PipelineError(error)
        }
    }

    /// Its resume position is a commit LSN, not a Commit end: the source starts at the slot's
    /// confirmed position, and the runner skips what the sink holds.
    func sourceStart(committedPosition: LSN) -> LSN { .zero }

    func transactionCompleted(end: LSN, source: any ChangeSource) -> Bool {
        source.acknowledge(durable: end)
        return true
    }

    func commitGroup(through end: LSN, _ group: inout GroupCommit) throws(PipelineError) {
        do { try group.source.sendAcknowledgements() } catch {
            // Nothing is lost by writing anyway: the position stays unacknowledged and the
            // restart skips what the sink holds.
            group.logger.warning("sending the acknowledgement failed; writing anyway", metadata: ["outflow.error": "\(error)"])
        }
        CrashPoint.hit("runner.amo.after-ack")
        do { try group.sink.flush() } catch { throw PipelineError(error) }
        CrashPoint.hit("runner.amo.after-write")
        group.committedPosition = positionAfterAbort(group.committedPosition, sink: group.sink)
        group.wroteToSink = group.sink.recordsInGroup > 0
        group.sink.endGroup()
        group.stagesCommitted()
    }

    /// Plain appends that a full batch already made stay in the sink: the source's resending
    /// of them must be skipped (never written twice).
    func positionAfterAbort(_ committedPosition: LSN, sink: any Sink) -> LSN {
        guard let highest = sink.highestWritten else { return committedPosition }
        return max(committedPosition, LSN(highest.rawValue + 1))
    }

    func finish(sink: any Sink) throws(PipelineError) {
        do { try sink.sync(recording: nil) } catch { throw PipelineError(error) }
    }
}

/// Replay: the stages run again over the changelog into the sink, in transactions like
/// exactly-once's — but every commit carries the live pipeline's checkpoint unchanged, so a
/// replay never moves the position the pipeline resumes from, nor its stage state, and
/// nothing is acknowledged.
struct ReplayDelivery: DeliveryMode {
    let liveCheckpoint: Checkpoint
    var transactional: Bool { true }

    func schedule(_ settings: PipelineRunner.Settings) -> GroupCommitSchedule.Settings {
        GroupCommitSchedule.Settings(maxBytes: settings.groupMaxBytes, maxLatency: settings.groupMaxLatency, spacing: nil, sleepsThroughSpacing: true)
    }

    /// Replays everything the changelog source hands over.
    func resumePosition(sink: any Sink) throws(PipelineError) -> LSN { .zero }

    func commitGroup(through end: LSN, _ group: inout GroupCommit) throws(PipelineError) {
        do { group.wroteToSink = try group.sink.commit(liveCheckpoint) } catch { throw PipelineError(error) }
        group.stagesCommitted()
    }
}
