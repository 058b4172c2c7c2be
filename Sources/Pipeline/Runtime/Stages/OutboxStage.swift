import Logging
import PGOutput
import PostgresSource

/// Debezium EventRouter semantics for a transactional-outbox table: an inserted outbox row
/// becomes one record — topic from the aggregate type, key = aggregate id, value = payload as
/// stored — with the event id and type in headers. Deleting outbox rows (cleanup) and other
/// tables' changes pass or drop as described below; nothing about them is guessed.
public final class OutboxStage: Stage {
    public struct Settings: Sendable {
        public var table: TableName
        public var idColumn = "id"
        public var aggregateTypeColumn = "aggregatetype"
        public var aggregateIDColumn = "aggregateid"
        public var typeColumn = "type"
        public var payloadColumn = "payload"
        /// `outbox.event.${aggregatetype}`: any column can be used.
        public var topicTemplate: EventTemplate
        /// Extra columns copied into headers: column → header name.
        public var headerColumns: [(column: String, header: String)] = []
        /// A NULL or empty payload becomes a tombstone (null value) instead of an empty value.
        public var tombstoneOnEmptyPayload = false
        /// The payload must be JSON (an event whose payload is not goes to the dead letters).
        public var payloadIsJSON = true

        public init(table: TableName, topicTemplate: EventTemplate) {
            self.table = table
            self.topicTemplate = topicTemplate
        }
    }

    public let id: String
    public let settings: Settings
    let logger: Logger
    /// Column positions per relation id, computed when a Relation is first seen (and again
    /// when a new Relation message changes the table).
    private var layouts: [UInt32: (relation: PGOutputMessage.Relation, layout: Layout)] = [:]
    public private(set) var updatesDropped = 0

    struct Layout {
        var id: Int, aggregateType: Int, aggregateID: Int, type: Int, payload: Int
        var payloadIsJSONType: Bool
    }

    public init(id: String, settings: Settings, logger: Logger = Logger(label: "outflow.pipeline.outbox")) {
        self.id = id
        self.settings = settings
        self.logger = logger
    }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        guard let change = event.change, change.table == settings.table else {
            emit(event, nil)  // not an outbox change: flows on untouched
            return
        }
        switch change.operation {
        case .insert:
            break
        case .delete, .truncate:
            return  // applications may delete outbox rows right after inserting them
        case .update:
            updatesDropped += 1
            if updatesDropped == 1 || updatesDropped % 1000 == 0 {
                logger.warning("outbox rows should only be inserted: UPDATE dropped", metadata: [
                    "outflow.table": "\(change.table)", "outflow.lsn": "\(event.origin.commitLSN)", "outflow.updates_dropped": "\(updatesDropped)",
                ])
            }
            return
        }
        guard let tuple = change.newTuple else { throw failure("an insert without a row") }
        let layout = try layout(for: change.relation)

        func text(_ index: Int) -> [UInt8]? {
            guard index < tuple.columns.count else { return nil }
            if case .text(let bytes) = tuple.columns[index] { return Array(bytes) }
            return nil
        }
        var output = PipelineEvent(origin: event.origin)
        for (index, column) in change.relation.columns.enumerated() where index < tuple.columns.count {
            if case .text(let bytes) = tuple.columns[index], index != layout.payload {
                output.fields[column.name] = .string(String(decoding: bytes, as: UTF8.self))
            } else if case .null = tuple.columns[index] {
                output.fields[column.name] = .null
            }
        }
        let payload = text(layout.payload)
        if let payload, !payload.isEmpty, settings.payloadIsJSON || layout.payloadIsJSONType {
            do {
                output.fields[settings.payloadColumn] = try JSONValueParser.parse(payload)
            } catch {
                throw failure("the payload is not JSON: \(error)")
            }
        } else {
            output.fields[settings.payloadColumn] = payload.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
        }

        guard let aggregateID = text(layout.aggregateID) else { throw failure("\(settings.aggregateIDColumn) is NULL") }
        let topic: String
        do {
            topic = try settings.topicTemplate.render(on: output)
        } catch {
            throw failure("the topic template failed: \(error)")
        }
        output.topic = topic
        output.key = aggregateID
        if let payload, !payload.isEmpty {
            output.value = payload
        } else {
            output.value = settings.tombstoneOnEmptyPayload ? nil : (payload ?? nil)
        }
        output.setHeader("id", text(layout.id))
        output.setHeader("type", text(layout.type))
        for (column, header) in settings.headerColumns {
            guard let index = change.relation.columns.firstIndex(where: { $0.name == column }) else { continue }
            output.setHeader(header, text(index))
        }
        emit(output, nil)
    }

    private func layout(for relation: PGOutputMessage.Relation) throws(StageFailure) -> Layout {
        if let cached = layouts[relation.relationID], cached.relation == relation { return cached.layout }
        func position(_ column: String) throws(StageFailure) -> Int {
            guard let index = relation.columns.firstIndex(where: { $0.name == column }) else {
                throw failure("table \(settings.table) has no column \"\(column)\" (columns: \(relation.columns.map(\.name).joined(separator: ", ")))")
            }
            return index
        }
        let payload = try position(settings.payloadColumn)
        let layout = Layout(
            id: try position(settings.idColumn), aggregateType: try position(settings.aggregateTypeColumn),
            aggregateID: try position(settings.aggregateIDColumn), type: try position(settings.typeColumn), payload: payload,
            payloadIsJSONType: [114, 3802].contains(relation.columns[payload].typeOID))
        layouts[relation.relationID] = (relation, layout)
        return layout
    }

    private func failure(_ message: String) -> StageFailure { StageFailure(stageID: id, message: message) }
}
