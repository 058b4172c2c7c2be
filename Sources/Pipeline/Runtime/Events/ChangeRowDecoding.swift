import PGOutput
import PostgresSource

/// Decodes a change event's rows by column type — for table CDC (envelopes, `after.…`
/// expressions) — and leaves alone the tables whose changes a stage reads raw (the outbox).
struct ChangeRowDecoding {
    let decoder: RowDecoder
    /// Tables an outbox stage reads: their rows are not decoded.
    let rawTables: Set<TableName>

    init(decoder: RowDecoder, graph: CompiledStageGraph) {
        self.decoder = decoder
        self.rawTables = Set(graph.stages.compactMap { ($0 as? OutboxStage)?.config.table })
    }

    func decode(_ event: inout PipelineEvent) throws(PostgresError) {
        guard let change = event.change, !rawTables.contains(change.table) else { return }
        do {
            let before = try change.oldTuple.map { tuple throws(PostgresError) in try decoder.row(tuple.tuple, of: change.relation) }
            let after = try change.newTuple.map { tuple throws(PostgresError) in try decoder.row(tuple, of: change.relation) }
            event.rows = DecodedRows(before: before, after: after)
        } catch {
            throw PostgresError(code: error.code, message: "decoding the row failed: \(error.message)", sqlState: error.sqlState, hint: error.hint)
        }
    }
}
