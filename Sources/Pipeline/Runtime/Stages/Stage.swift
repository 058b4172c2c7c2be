/// An event a stage could not handle: it goes to the dead-letter topic (or stops the
/// pipeline, when the policy says `fail`) with this reason.
public struct StageFailure: Error, Sendable, CustomStringConvertible {
    public var stageID: String
    public var message: String
    /// The failure stops the pipeline whatever the dead-letter policy (`unmatched: fail`).
    public var stopsPipeline: Bool

    public init(stageID: String, message: String, stopsPipeline: Bool = false) {
        self.stageID = stageID
        self.message = message
        self.stopsPipeline = stopsPipeline
    }

    public var description: String { "stage \(stageID): \(message)" }
}

/// One step of the stage graph. A stage reads one event and emits zero or more, each on an
/// output port (`nil`: the default output; `route` has named ones).
///
/// Stages run on the pipeline's one thread, in source order, so they keep plain state.
public protocol Stage: AnyObject {
    var id: String { get }
    func process(_ event: PipelineEvent, emit: (PipelineEvent, _ port: String?) -> Void) throws(StageFailure)
    /// The stage reads the source transaction's commit LSN or time. A stage that does not,
    /// and keeps no state, can run on a streamed transaction's changes before it commits.
    var readsCommitPosition: Bool { get }
}

extension Stage {
    /// Unless a stage says otherwise, it is taken to read the commit position.
    public var readsCommitPosition: Bool { true }
}

/// A stage whose state must commit atomically with the output (exactly-once): what it
/// changed since the last commit, or a reference to where it keeps it, travels in the log's
/// commit record; a log transaction that aborts takes the stage back to the last commit.
public protocol StatefulStage: Stage {
    /// Opens the state before the first event: files go in `directory` (nil: a temporary
    /// directory of the stage's own); `committed` is this stage's part of every retained commit
    /// record, oldest first (empty: nothing committed yet), or nil when the state is not kept
    /// across starts (outside exactly-once).
    func openState(directory: String?, committed: [[UInt8]]?) throws(StageFailure)
    /// What to store in the commit record about to be written (nil: nothing), made durable
    /// first where it refers to files.
    func pendingChanges() throws(StageFailure) -> [UInt8]?
    /// The group committed. `recorded`: a commit record carrying `pendingChanges()` was
    /// written (false when the group wrote nothing, so no record was needed, and outside
    /// exactly-once) — until one is, what the last record names must stay.
    func didCommit(recorded: Bool)
    /// The log transaction aborted: back to the state of the last commit.
    func didAbort() throws(StageFailure)
}
