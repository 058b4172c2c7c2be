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
/// changed since the last commit travels in the log's commit record, and is undone when the
/// log transaction aborts.
public protocol StatefulStage: Stage {
    /// The changes since the last commit, to store in the commit record (nil: none).
    func pendingChanges() -> [UInt8]?
    /// The log transaction committed: the pending changes are now durable.
    func didCommit()
    /// The log transaction aborted: forget the pending changes.
    func didAbort()
    /// Restores state from the changes of past commit records, oldest first.
    func restore(from changes: [UInt8]) throws(StageFailure)
}
