/// `key`: sets the record key (and so the partition) from an expression; strings as they
/// are, other values as JSON, null for no key.
public final class KeyStage: Stage {
    public let id: String
    public let config: KeyStageConfig

    public init(id: String, config: KeyStageConfig) {
        self.id = id
        self.config = config
    }

    public var readsCommitPosition: Bool { config.expression.readsCommitPosition }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        var event = event
        do {
            event.key = try config.expression.evaluate(on: event).recordBytes
        } catch {
            throw StageFailure(stageID: id, message: "the key expression failed: \(error)")
        }
        emit(event, nil)
    }
}

extension EventValue {
    /// The bytes a record key or header gets: strings as UTF-8, other values as JSON, nil for null.
    var recordBytes: [UInt8]? {
        switch self {
        case .null: nil
        case .string(let text): Array(text.utf8)
        default: Array(jsonText.utf8)
        }
    }

    /// Text for topic names and dedupe keys: strings as they are, other values as JSON.
    var plainText: String {
        if case .string(let text) = self { return text }
        return jsonText
    }
}
