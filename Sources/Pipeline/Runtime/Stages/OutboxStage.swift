import Logging
import PGOutput
import PostgresSource

/// Debezium EventRouter semantics for a transactional-outbox table: an inserted outbox row
/// becomes one record — topic from the aggregate type, key = aggregate id, value = payload as
/// stored — with the event id and type in headers. Deleting outbox rows (cleanup) and other
/// tables' changes pass or drop as described below; nothing about them is guessed.
public final class OutboxStage: Stage {
    public let id: String
    public let config: OutboxStageConfig
    let logger: Logger
    /// Column positions per relation id, computed when a Relation is first seen (and again
    /// when a new Relation message changes the table).
    private var layouts: [UInt32: (relation: PGOutputMessage.Relation, layout: Layout)] = [:]
    public private(set) var updatesDropped = 0

    struct Layout {
        var id: Int, aggregateType: Int, aggregateID: Int, type: Int, payload: Int
        /// The topic template as literal text and column positions, when every expression in it
        /// is a plain column of the row other than the payload (the default template is):
        /// rendered from the row's bytes without building fields.
        var topic: [TopicPiece]?
    }

    enum TopicPiece {
        case literal([UInt8])
        case column(Int)
    }

    /// The last topic rendered by the fast path, as text and UTF-8: consecutive events mostly
    /// share a topic, which is then neither rebuilt nor allocated.
    private var lastTopic: (text: String, bytes: [UInt8])?

    public init(id: String, config: OutboxStageConfig, logger: Logger = Logger(label: "outflow.pipeline.outbox")) {
        self.id = id
        self.config = config
        self.logger = logger
    }

    public var readsCommitPosition: Bool { config.topic.readsCommitPosition }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        guard let change = event.change, change.table == config.table else {
            emit(event, nil)  // not an outbox change: flows on untouched
            return
        }
        switch change.operation {
        case .insert:
            break
        case .truncate:
            return
        case .delete:
            // Applications may delete outbox rows right after inserting them.
            switch config.onDelete {
            case .drop: return
            case .warnDrop: warn("outbox rows are deleted: DELETE dropped", event: event); return
            case .fail: throw failure("a DELETE of an outbox row (on_delete: fail)")
            }
        case .update:
            updatesDropped += 1
            switch config.onUpdate {
            case .drop: return
            case .warnDrop:
                if updatesDropped == 1 || updatesDropped % 1000 == 0 { warn("outbox rows should only be inserted: UPDATE dropped", event: event) }
                return
            case .fail: throw failure("an UPDATE of an outbox row (on_update: fail)")
            }
        }
        guard let tuple = change.newTuple else { throw failure("an insert without a row") }
        let layout = try layout(for: change.relation)

        func text(_ index: Int) -> [UInt8]? {
            guard index < tuple.columns.count else { return nil }
            if case .text(let bytes) = tuple.columns[index] { return Array(bytes) }
            return nil
        }
        var output = PipelineEvent(origin: event.origin)
        // The columns become fields lazily (read by expressions only); a json/jsonb payload is
        // parsed only if read. Another payload type is parsed here, as it may not be JSON.
        let payload = text(layout.payload)
        let jsonPayload = Self.jsonTypes.contains(change.relation.columns[layout.payload].typeOID)
        if let payload, !payload.isEmpty, jsonPayload {
            output.rowFields = .init(relation: change.relation, tuple: tuple, jsonColumn: layout.payload)
        } else {
            output.rowFields = .init(relation: change.relation, tuple: tuple, jsonColumn: nil, excluded: [layout.payload])
            if let payload, !payload.isEmpty {
                do {
                    output.fields[config.columns.payload] = try JSONValueParser.parse(payload)
                } catch {
                    throw failure("the payload is not JSON: \(error)")
                }
            } else {
                output.fields[config.columns.payload] = payload.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
            }
        }

        guard let aggregateID = text(layout.aggregateID) else { throw failure("\(config.columns.aggregateID) is NULL") }
        let topic: String
        if let pieces = layout.topic, let rendered = renderTopic(pieces, tuple) {
            topic = rendered
        } else {
            do {
                topic = try config.topic.render(on: output)
            } catch {
                throw failure("the topic template failed: \(error)")
            }
        }
        output.topic = topic
        output.key = aggregateID
        if let payload, !payload.isEmpty {
            output.value = payload
        } else {
            output.value = config.tombstoneOnEmptyPayload ? nil : (payload ?? nil)
        }
        output.setHeader("id", text(layout.id))
        output.setHeader("type", text(layout.type))
        for header in config.headers {
            guard let index = change.relation.columns.firstIndex(where: { $0.name == header.column }) else {
                throw failure("table \(config.table) has no column \"\(header.column)\" for header \"\(header.header)\"")
            }
            output.setHeader(header.header, text(index))
        }
        output.valueField = config.columns.payload
        emit(output, nil)
    }

    /// The topic from the row's bytes; nil when a column is not text (NULL, binary): the
    /// template's own rendering then decides, and reports a NULL as it always does.
    private func renderTopic(_ pieces: [TopicPiece], _ tuple: TupleData) -> String? {
        func bytes(of piece: TopicPiece) -> ArraySlice<UInt8>? {
            switch piece {
            case .literal(let text): return text[...]
            case .column(let index):
                guard index < tuple.columns.count, case .text(let text) = tuple.columns[index] else { return nil }
                return text
            }
        }
        // First compare with the last topic without building anything.
        if let last = lastTopic {
            var offset = 0
            var same = true
            for piece in pieces {
                guard let part = bytes(of: piece) else { return nil }
                guard offset + part.count <= last.bytes.count, last.bytes[offset..<(offset + part.count)].elementsEqual(part) else {
                    same = false
                    break
                }
                offset += part.count
            }
            if same && offset == last.bytes.count { return last.text }
        }
        var rendered: [UInt8] = []
        for piece in pieces {
            guard let part = bytes(of: piece) else { return nil }
            rendered += part
        }
        let text = String(decoding: rendered, as: UTF8.self)
        lastTopic = (text, rendered)
        return text
    }

    /// json, jsonb.
    static let jsonTypes: Set<UInt32> = [114, 3802]

    private func warn(_ message: Logger.Message, event: PipelineEvent) {
        logger.warning(message, metadata: [
            "outflow.table": "\(event.origin.table)", "outflow.lsn": "\(event.origin.positionText)", "outflow.updates_dropped": "\(updatesDropped)",
        ])
    }

    private func layout(for relation: PGOutputMessage.Relation) throws(StageFailure) -> Layout {
        if let cached = layouts[relation.relationID], cached.relation == relation { return cached.layout }
        func position(_ column: String) throws(StageFailure) -> Int {
            guard let index = relation.columns.firstIndex(where: { $0.name == column }) else {
                throw failure("table \(config.table) has no column \"\(column)\" (columns: \(relation.columns.map(\.name).joined(separator: ", ")))")
            }
            return index
        }
        let payload = try position(config.columns.payload)
        var topic: [TopicPiece]? = []
        for part in config.topic.parts {
            switch part {
            case .literal(let text):
                topic?.append(.literal(Array(text.utf8)))
            case .expression(let expression):
                guard case .field(let path) = expression.root.kind, path.segments.count == 1, case .name(let name) = path.segments[0],
                    let index = relation.columns.firstIndex(where: { $0.name == name }), index != payload
                else { topic = nil; break }
                topic?.append(.column(index))
            }
        }
        let layout = Layout(
            id: try position(config.columns.id), aggregateType: try position(config.columns.aggregateType),
            aggregateID: try position(config.columns.aggregateID), type: try position(config.columns.type), payload: payload,
            topic: topic)
        layouts[relation.relationID] = (relation, layout)
        return layout
    }

    private func failure(_ message: String) -> StageFailure { StageFailure(stageID: id, message: message) }
}
