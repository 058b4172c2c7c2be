import PGOutput
import PostgresSource

/// A row change as Debezium's Postgres connector would publish it (JSON, no schema):
/// `{"before": …, "after": …, "source": {…}, "op": "c|u|d|t", "ts_ms": …}` on topic
/// `<pipeline>.<schema>.<table>`, keyed by the primary key columns.
enum DebeziumEnvelope {
    static func fill(_ event: inout PipelineEvent, change: SourceChange, pipelineName: String, databaseName: String) {
        let op: String = switch change.operation {
        case .insert: "c"
        case .update: "u"
        case .delete: "d"
        case .truncate: "t"
        }
        let origin = event.origin
        let source: EventValue = .object([
            "version": .string("outflow"),
            "connector": .string("postgresql"),
            "name": .string(pipelineName),
            "ts_ms": .int(origin.commitTime.unixMicroseconds / 1000),
            "db": .string(databaseName),
            "schema": .string(change.table.schema),
            "table": .string(change.table.name),
            "txId": .int(Int64(origin.xid)),
            "lsn": .int(Int64(bitPattern: origin.commitLSN.rawValue)),
        ])
        let before = change.operation == .insert || change.operation == .truncate ? EventValue.null : PipelineEvent.columns(of: change, old: true)
        let after = change.operation == .delete || change.operation == .truncate ? EventValue.null : PipelineEvent.columns(of: change, old: false)
        let envelope: EventValue = .object([
            "before": before, "after": after, "source": source, "op": .string(op),
            "ts_ms": .int(origin.commitTime.unixMicroseconds / 1000),
        ])
        event.topic = "\(pipelineName).\(change.table.schema).\(change.table.name)"
        event.value = Array(envelope.jsonText.utf8)
        let keyColumns = change.relation.columns.enumerated().filter { $0.element.isKey }
        if !keyColumns.isEmpty, case .object(let row) = (after.isNull ? before : after) {
            var key: [String: EventValue] = [:]
            for (_, column) in keyColumns { key[column.name] = row[column.name] ?? .null }
            event.key = Array(EventValue.object(key).jsonText.utf8)
        }
    }
}
