/// `filter`: passes the events its condition holds for.
public final class FilterStage: Stage {
    public let id: String
    public let config: FilterStageConfig

    public init(id: String, config: FilterStageConfig) {
        self.id = id
        self.config = config
    }

    public var readsCommitPosition: Bool { config.condition.readsCommitPosition }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        do {
            if try config.condition.isSatisfied(by: event) { emit(event, nil) }
        } catch {
            throw StageFailure(stageID: id, message: "the condition failed: \(error)")
        }
    }
}
