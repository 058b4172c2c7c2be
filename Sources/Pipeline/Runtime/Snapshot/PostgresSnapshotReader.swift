import Foundation
import PGOutput
import PostgresSource

/// Describes and splits tables and writes requests over an ordinary connection of its own; its
/// chunk readers (`PostgresChunkReader`) each have their own.
public final class PostgresSnapshotReader: SnapshotReader {
    let connectionString: ConnectionString
    private var connection: PostgresConnection?

    public init(connectionString: ConnectionString) {
        self.connectionString = connectionString
    }

    private func withConnection<T>(_ what: String, _ body: (PostgresConnection) throws(PostgresError) -> T) throws(PipelineError) -> T {
        try SnapshotConnection.with(&connection, connectionString, what, body)
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

    /// Keys at even steps of a sample of the table's keys (`TABLESAMPLE SYSTEM` over a few
    /// hundred pages, so it costs about the same for any table size): the ranges they cut hold
    /// about as many rows each, however the keys are spread.
    public func splitKeys(_ table: SnapshotTable, parts: Int) throws(PipelineError) -> [[String?]] {
        guard parts > 1 else { return [] }
        return try withConnection("splitting \(table.name) into key ranges") { connection throws(PostgresError) in
            let regclass = try connection.quoteLiteral(try connection.quoted(table.name)) + "::regclass"
            let pages = Double(try connection.execute(
                "SELECT pg_relation_size(\(regclass)) / current_setting('block_size')::bigint AS pages").value("pages") ?? "") ?? 0
            let percent = min(100, max(0.001, 100 * Self.sampledPages / max(pages, 1)))
            let key = try table.keyColumns.map { column throws(PostgresError) in try connection.quoteIdentifier(column) }.joined(separator: ", ")
            let sample = try connection.execute(
                "SELECT \(key) FROM \(try connection.quoted(table.name)) TABLESAMPLE SYSTEM (\(String(format: "%.4f", percent))) ORDER BY \(key)").rows
            var keys: [[String?]] = []
            for part in 1..<parts {
                let index = sample.count * part / parts
                guard index > 0, index < sample.count, keys.last != sample[index] else { continue }
                keys.append(sample[index])
            }
            return keys
        }
    }

    static let sampledPages = 300.0

    public func chunkReader() -> any SnapshotChunkReader { PostgresChunkReader(connectionString: connectionString) }

    public var readsConcurrently: Bool { true }

    public func request(_ request: SnapshotRequest) throws(PipelineError) {
        try withConnection("requesting snapshot \(request.id)") { connection throws(PostgresError) in try SnapshotConnection.emit(.request(request), on: connection) }
    }

    public func estimatedRows(_ table: TableName) -> Int64? {
        try? withConnection("estimating \(table)") { connection throws(PostgresError) in
            let regclass = try connection.quoteLiteral(try connection.quoted(table)) + "::regclass"
            return Int64(try connection.execute("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = \(regclass)").value("n") ?? "")
        }
    }
}

/// A snapshot's connection, opened when first needed and again after it was lost.
enum SnapshotConnection {
    static func open(_ connection: inout PostgresConnection?, _ connectionString: ConnectionString) throws(PipelineError) -> PostgresConnection {
        if let connection { return connection }
        do {
            let opened = try PostgresConnection(connectionString, applicationName: "outflow-snapshot")
            // Values as text in the forms the replication session fixes, so the row decoder
            // reads a chunk's rows exactly as it reads the stream's.
            try opened.execute("SET datestyle = ISO; SET intervalstyle = postgres; SET extra_float_digits = 3")
            connection = opened
            return opened
        } catch {
            throw PipelineError(.source, "connecting for a snapshot failed: \(error)", underlying: error)
        }
    }

    /// Runs `body` on the connection; a server's refusal (a missing table, a bad filter, no
    /// privilege) is a `.snapshot` error, a lost connection a `.source` one (tried again).
    static func with<T>(
        _ connection: inout PostgresConnection?, _ connectionString: ConnectionString, _ what: String,
        _ body: (PostgresConnection) throws(PostgresError) -> T
    ) throws(PipelineError) -> T {
        let opened = try open(&connection, connectionString)
        do {
            return try body(opened)
        } catch {
            if error.code == .connectionLost || error.code == .connectionFailed {
                connection = nil
                throw PipelineError(.source, "\(what) failed: \(error)", underlying: error)
            }
            _ = try? opened.execute("ROLLBACK")
            throw PipelineError(.snapshot, "\(what) failed: \(error)", underlying: error)
        }
    }

    /// A transactional message of its own: it reaches the stream at its commit, once the
    /// server has flushed it, in commit order with every other transaction.
    static func emit(_ message: SnapshotMessage, on connection: PostgresConnection) throws(PostgresError) {
        try connection.execute(
            "SELECT pg_logical_emit_message(true, \(try connection.quoteLiteral(message.prefix)), \(try connection.quoteLiteral(message.content)))")
    }
}

/// Reads the chunks of one reader lane on a connection of its own. Chunks go by primary key
/// ranges (`WHERE (key) > (after) AND (key) <= (through) ORDER BY key LIMIT n`), so each is an
/// index range scan however far the snapshot has gone.
///
/// Used by one lane's thread at a time (the connection is not thread-safe): `Sendable` by hand.
final class PostgresChunkReader: SnapshotChunkReader, @unchecked Sendable {
    let connectionString: ConnectionString
    private var connection: PostgresConnection?

    init(connectionString: ConnectionString) { self.connectionString = connectionString }

    func readChunk(_ read: ChunkRead, deliver: (SnapshotChunk) -> Void) throws(PipelineError) {
        let table = read.table
        let rows = try SnapshotConnection.with(&connection, connectionString, "reading a chunk of \(table.name)") { connection throws(PostgresError) in
            let columns = try table.relation.columns.map { column throws(PostgresError) in try connection.quoteIdentifier(column.name) }
            let key = "(" + (try table.keyColumns.map { column throws(PostgresError) in try connection.quoteIdentifier(column) }).joined(separator: ", ") + ")"
            func literal(_ values: [String?]) throws(PostgresError) -> String {
                "(" + (try values.map { value throws(PostgresError) in try value.map { value throws(PostgresError) in try connection.quoteLiteral(value) } ?? "NULL" })
                    .joined(separator: ", ") + ")"
            }
            var conditions: [String] = []
            if let after = read.after { conditions.append("\(key) > \(try literal(after))") }
            if let through = read.through { conditions.append("\(key) <= \(try literal(through))") }
            if let filter = read.filter { conditions.append("(\(filter))") }
            let query = "SELECT \(columns.joined(separator: ", ")) FROM \(try connection.quoted(table.name))"
                + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
                + " ORDER BY \(key.dropFirst().dropLast()) LIMIT \(read.limit)"
            try SnapshotConnection.emit(.watermark(SnapshotWatermark(chunk: read.watermark, kind: .low, table: table.name)), on: connection)
            // Read only: a backfill's filter comes from the stream and must not write.
            try connection.execute("BEGIN READ ONLY")
            let result = try connection.execute(query)
            try connection.execute("COMMIT")
            return result.rows
        }
        deliver(SnapshotChunk(
            watermark: read.watermark, table: table,
            rows: rows.map { row in TupleData(row.map { value in value.map { .text(ArraySlice($0.utf8)) } ?? .null }) }, limit: read.limit))
        // The high watermark need not wait for its flush: nothing waits for it but the stream,
        // which gets it with the next flush — the lane's next low watermark, which does wait
        // (see the caveat on transactions not yet visible in docs/architecture.md, "Snapshots").
        try SnapshotConnection.with(&connection, connectionString, "writing the high watermark of a chunk of \(table.name)") { connection throws(PostgresError) in
            try connection.execute("BEGIN; SET LOCAL synchronous_commit = off")
            try SnapshotConnection.emit(.watermark(SnapshotWatermark(chunk: read.watermark, kind: .high, table: table.name)), on: connection)
            try connection.execute("COMMIT")
        }
    }
}
