/// `route`: picks the topic by a template or by a table of values, or sends events to named
/// outputs (other stages read them as `id.name`). What matches nothing is dropped, sent to
/// the dead letters, or stops the pipeline, as configured.
public final class RouteStage: Stage {
    public let id: String
    public let config: RouteStageConfig
    private let topicsByValue: [String: String]

    public init(id: String, config: RouteStageConfig) {
        self.id = id
        self.config = config
        if case .table(_, let topics) = config.routing {
            topicsByValue = Dictionary(topics.map { ($0.value, $0.topic) }, uniquingKeysWith: { first, _ in first })
        } else {
            topicsByValue = [:]
        }
    }

    public var readsCommitPosition: Bool {
        switch config.routing {
        case .template(let template): template.readsCommitPosition
        case .table(let expression, _): expression.readsCommitPosition
        case .outputs(let outputs): outputs.contains { $0.condition.readsCommitPosition }
        }
    }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        var event = event
        do {
            switch config.routing {
            case .template(let template):
                event.topic = try template.render(on: event)
                emit(event, nil)
                return
            case .table(let expression, _):
                if let topic = topicsByValue[try expression.evaluate(on: event).plainText] {
                    event.topic = topic
                    emit(event, nil)
                    return
                }
            case .outputs(let outputs):
                var matched = false
                for output in outputs where try output.condition.isSatisfied(by: event) {
                    emit(event, output.name)
                    matched = true
                }
                if matched { return }
            }
        } catch {
            throw StageFailure(stageID: id, message: "routing failed: \(error)")
        }
        switch config.unmatched {
        case .drop: return
        case .deadLetter: throw StageFailure(stageID: id, message: "no route matched")
        case .fail: throw StageFailure(stageID: id, message: "no route matched (unmatched: fail)", stopsPipeline: true)
        }
    }
}
