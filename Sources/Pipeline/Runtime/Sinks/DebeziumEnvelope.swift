import PGOutput
import PostgresSource

/// A row change as Debezium's Postgres connector would publish it (JSON, no schema):
/// `{"before": …, "after": …, "source": {…}, "op": "c|u|d|t", "ts_ms": …}` on topic
/// `<pipeline>.<schema>.<table>`, keyed by the primary key columns.
enum DebeziumEnvelope {
    /// The primary key (the key columns of the Relation) as a JSON object, from the new row or
    /// for a delete the old key.
    static func key(of change: SourceChange, rows: DecodedRows?) -> [UInt8]? {
        let keyNames = Set(change.relation.columns.filter(\.isKey).map(\.name))
        guard !keyNames.isEmpty else { return nil }
        if let rows, let row = rows.after ?? rows.before {
            return json(row.filter { keyNames.contains($0.name) })
        }
        guard case .object(let row) = PipelineEvent.columns(of: change, old: change.newTuple == nil) else { return nil }
        return Array(EventValue.object(row.filter { keyNames.contains($0.key) }).jsonText.utf8)
    }

    static func json(_ row: [(name: String, value: PGValue)]?) -> [UInt8] {
        guard let row else { return Array("null".utf8) }
        var output: [UInt8] = [UInt8(ascii: "{")]
        for (index, (name, value)) in row.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output += Array(EventValue.string(name).jsonText.utf8)
            output.append(UInt8(ascii: ":"))
            value.writeJSON(into: &output)
        }
        output.append(UInt8(ascii: "}"))
        return output
    }

    /// What an envelope's value ends with: the `source` block and `ts_ms`, which name the
    /// source transaction's commit.
    struct Tail: Sendable, Equatable {
        var table: TableName
        var operation: SourceChange.Operation
        /// A snapshot's read: `op` is `r` and `source.snapshot` says `true` or `last`.
        var snapshot: SnapshotMark? = nil
    }

    /// Sets the envelope's topic, key and value up to its tail, which needs the commit: a
    /// streamed transaction's events are staged before it commits.
    static func fillAwaitingCommit(_ event: inout PipelineEvent, change: SourceChange, pipelineName: String) -> Tail {
        let before: [UInt8]
        let after: [UInt8]
        if let rows = event.rows {
            before = json(rows.before)
            after = json(rows.after)
        } else {
            // Undecoded: the columns as Postgres printed them.
            before = Array((change.operation == .insert || change.operation == .truncate ? EventValue.null : PipelineEvent.columns(of: change, old: true)).jsonText.utf8)
            after = Array((change.operation == .delete || change.operation == .truncate ? EventValue.null : PipelineEvent.columns(of: change, old: false)).jsonText.utf8)
        }
        var value: [UInt8] = []
        value.reserveCapacity(before.count + after.count + 256)
        value += Array(#"{"before":"#.utf8) + before + Array(#","after":"#.utf8) + after
        event.topic = "\(pipelineName).\(change.table.schema).\(change.table.name)"
        event.value = value
        event.key = key(of: change, rows: event.rows)
        return Tail(table: change.table, operation: change.operation, snapshot: event.origin.snapshot)
    }

    static func tail(_ tail: Tail, commit: SourceCommit, pipelineName: String, databaseName: String) -> [UInt8] {
        let op: String = switch tail.operation {
        case _ where tail.snapshot != nil: "r"
        case .insert: "c"
        case .update: "u"
        case .delete: "d"
        case .truncate: "t"
        }
        var source: [String: EventValue] = [
            "version": .string("outflow"),
            "connector": .string("postgresql"),
            "name": .string(pipelineName),
            "ts_ms": .int(commit.time.unixMicroseconds / 1000),
            "db": .string(databaseName),
            "schema": .string(tail.table.schema),
            "table": .string(tail.table.name),
            "txId": .int(Int64(commit.xid)),
            "lsn": .int(Int64(bitPattern: commit.lsn.rawValue)),
        ]
        if let snapshot = tail.snapshot { source["snapshot"] = .string(snapshot.rawValue) }
        var value = Array(#","source":"#.utf8) + Array(EventValue.object(source).jsonText.utf8)
        value += Array(#","op":""#.utf8) + Array(op.utf8) + Array(#"","ts_ms":"#.utf8) + Array(String(commit.time.unixMicroseconds / 1000).utf8) + [UInt8(ascii: "}")]
        return value
    }
}
