import PGOutput
import PostgresSource

/// Reads chunks over an ordinary connection of its own and writes the watermarks and requests
/// with `pg_logical_emit_message` on it. Chunks go by primary key ranges (`WHERE (key) > (last)
/// ORDER BY key LIMIT n`), so each is an index range scan however far the snapshot has gone.
///
/// Values come as text in the forms the replication session fixes (`DateStyle`,
/// `IntervalStyle`, `extra_float_digits`), so the row decoder reads a chunk's rows exactly as
/// it reads the stream's, and a row read equals the same row streamed.
public final class PostgresSnapshotReader: SnapshotReader {
    let connectionString: ConnectionString
    private var connection: PostgresConnection?

    public init(connectionString: ConnectionString) {
        self.connectionString = connectionString
    }

    private func open() throws(PipelineError) -> PostgresConnection {
        if let connection { return connection }
        do {
            let opened = try PostgresConnection(connectionString, applicationName: "outflow-snapshot")
            try opened.execute("SET datestyle = ISO; SET intervalstyle = postgres; SET extra_float_digits = 3")
            connection = opened
            return opened
        } catch {
            throw PipelineError(.source, "connecting for a snapshot failed: \(error)", underlying: error)
        }
    }

    /// Runs `body` on the connection; a server's refusal (a missing table, a bad filter, no
    /// privilege) is a `.snapshot` error, a lost connection a `.source` one (tried again).
    private func withConnection<T>(_ what: String, _ body: (PostgresConnection) throws(PostgresError) -> T) throws(PipelineError) -> T {
        let connection = try open()
        do {
            return try body(connection)
        } catch {
            if error.code == .connectionLost || error.code == .connectionFailed {
                self.connection = nil
                throw PipelineError(.source, "\(what) failed: \(error)", underlying: error)
            }
            _ = try? connection.execute("ROLLBACK")
            throw PipelineError(.snapshot, "\(what) failed: \(error)", underlying: error)
        }
    }

    public func describe(_ table: TableName) throws(PipelineError) -> SnapshotTable {
        let (relation, key) = try withConnection("describing \(table)") { connection throws(PostgresError) in
            let regclass = try connection.quoteLiteral(try connection.quoted(table)) + "::regclass"
            let identity = try connection.execute("SELECT oid, relreplident FROM pg_class WHERE oid = \(regclass)")
            let columns = try connection.execute("""
                SELECT a.attname, a.atttypid, a.atttypmod, k.ord
                FROM pg_attribute a
                LEFT JOIN (SELECT key.attnum, key.ord FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY AS key(attnum, ord)
                           WHERE i.indrelid = \(regclass) AND i.indisprimary) k ON k.attnum = a.attnum
                WHERE a.attrelid = \(regclass) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                ORDER BY a.attnum
                """)
            let relation = PGOutputMessage.Relation(
                relationID: UInt32(identity.value("oid") ?? "") ?? 0, namespace: table.schema, name: table.name,
                replicaIdentity: .init(rawValue: identity.value("relreplident")?.utf8.first ?? 0x64),
                columns: columns.rows.map { row in
                    .init(flags: row[3] == nil ? PGOutputMessage.Relation.Column.Flags() : .key, name: row[0] ?? "", typeOID: UInt32(row[1] ?? "") ?? 0, typeModifier: Int32(row[2] ?? "") ?? -1)
                })
            let key = columns.rows.compactMap { row in row[3].flatMap { Int($0) }.map { (position: $0, name: row[0] ?? "") } }
                .sorted { $0.position < $1.position }.map(\.name)
            return (relation, key)
        }
        guard !key.isEmpty else {
            throw PipelineError(.snapshot, "\(table) has no primary key: snapshots read tables in primary key ranges (tables without one are not supported yet)")
        }
        return SnapshotTable(name: table, relation: relation, keyColumns: key)
    }

    public func readChunk(_ table: SnapshotTable, after: [String?]?, filter: String?, limit: Int, watermark: String) throws(PipelineError) -> SnapshotChunk {
        let rows = try withConnection("reading a chunk of \(table.name)") { connection throws(PostgresError) in
            let columns = try table.relation.columns.map { column throws(PostgresError) in try connection.quoteIdentifier(column.name) }
            let key = try table.keyColumns.map { column throws(PostgresError) in try connection.quoteIdentifier(column) }
            var conditions: [String] = []
            if let after {
                let values = try after.map { value throws(PostgresError) in try value.map { value throws(PostgresError) in try connection.quoteLiteral(value) } ?? "NULL" }
                conditions.append("(\(key.joined(separator: ", "))) > (\(values.joined(separator: ", ")))")
            }
            if let filter { conditions.append("(\(filter))") }
            let query = "SELECT \(columns.joined(separator: ", ")) FROM \(try connection.quoted(table.name))"
                + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
                + " ORDER BY \(key.joined(separator: ", ")) LIMIT \(limit)"
            try emit(.watermark(SnapshotWatermark(chunk: watermark, kind: .low, table: table.name)), on: connection)
            // Read only: a backfill's filter comes from the stream and must not write.
            try connection.execute("BEGIN READ ONLY")
            let result = try connection.execute(query)
            try connection.execute("COMMIT")
            try emit(.watermark(SnapshotWatermark(chunk: watermark, kind: .high, table: table.name)), on: connection)
            return result.rows
        }
        return SnapshotChunk(
            watermark: watermark, table: table,
            rows: rows.map { row in TupleData(row.map { value in value.map { .text(ArraySlice($0.utf8)) } ?? .null }) }, limit: limit)
    }

    public func request(_ request: SnapshotRequest) throws(PipelineError) {
        try withConnection("requesting snapshot \(request.id)") { connection throws(PostgresError) in try emit(.request(request), on: connection) }
    }

    public func estimatedRows(_ table: TableName) -> Int64? {
        try? withConnection("estimating \(table)") { connection throws(PostgresError) in
            let regclass = try connection.quoteLiteral(try connection.quoted(table)) + "::regclass"
            return Int64(try connection.execute("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = \(regclass)").value("n") ?? "")
        }
    }

    /// A transactional message of its own: it reaches the stream at its commit, once the
    /// server has flushed it, in commit order with every other transaction.
    private func emit(_ message: SnapshotMessage, on connection: PostgresConnection) throws(PostgresError) {
        try connection.execute(
            "SELECT pg_logical_emit_message(true, \(try connection.quoteLiteral(message.prefix)), \(try connection.quoteLiteral(message.content)))")
    }
}
