import PGOutput

/// `order`: restores source order (commit LSN, then position in the transaction) after
/// parallel branches. The runtime runs every branch on one thread, depth-first, in source
/// order, so events already arrive in total order — which implies order per key. The stage
/// checks that they do and stops the pipeline on a violation rather than passing it on.
public final class OrderStage: Stage {
    public let id: String
    public let config: OrderStageConfig
    private var last: (commitLSN: UInt64, sequence: Int)?

    public init(id: String, config: OrderStageConfig) {
        self.id = id
        self.config = config
    }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        let position = (event.origin.commitLSN.rawValue, event.origin.sequence)
        if let last, position < last {
            throw StageFailure(
                stageID: id, message: "an event of \(event.origin.commitLSN) #\(event.origin.sequence) arrived after a later one",
                stopsPipeline: true)
        }
        last = position
        emit(event, nil)
    }
}

/// `batch`: how the sink groups records (records, bytes, linger). Events pass unchanged; the
/// pipeline builder hands the settings to the log sink.
public final class BatchStage: Stage {
    public let id: String
    public let config: BatchStageConfig

    public init(id: String, config: BatchStageConfig) {
        self.id = id
        self.config = config
    }

    public var readsCommitPosition: Bool { false }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        emit(event, nil)
    }
}
