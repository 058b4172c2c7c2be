import PostgresSource

/// Postgres as the oracle for the decoders: it prints each value with the type's own output
/// function (what pgoutput sends), and computes the facts to check the decoded value against
/// with its own functions (`extract`, `encode(…send(v))`, `array_length` …), independently
/// of the decoder's code.
struct ValueOracle {
    let sql: PostgresConnection

    /// A session printing values as the replication connection must: DateStyle=ISO,
    /// IntervalStyle=postgres.
    init(timeZone: String = "UTC") throws {
        sql = try PostgresConnection(try TestPostgres.url())
        try sql.execute("SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = \(try sql.quoteLiteral(timeZone))")
    }

    struct Row {
        /// The value's text as Postgres printed it; nil for NULL.
        let text: String?
        /// The column's type OID as the server reports it.
        let typeOID: UInt32
        /// The oracle expressions' results, by name.
        let facts: [String: String?]
        /// The literal the row was made from, for messages.
        let literal: String

        func fact(_ name: String) -> String? { facts[name] ?? nil }
    }

    /// Stores `literals` in a fresh table with a column of `type`, then reads each back with
    /// the `facts` expressions (SQL over the column `v`).
    func rows(type: String, literals: [String], facts: [String: String] = [:]) throws -> [Row] {
        let table = TestPostgres.uniqueName("values_oracle")
        try sql.execute("CREATE TEMP TABLE \(table) (id int PRIMARY KEY, v \(type))")
        defer { _ = try? sql.execute("DROP TABLE \(table)") }
        for (index, literal) in literals.enumerated() {
            try sql.execute("INSERT INTO \(table) VALUES (\(index), \(literal))")
        }
        return try read(table: table, literals: literals, facts: facts)
    }

    /// The reading half of `rows`: each row's value, type OID and facts.
    private func read(table: String, literals: [String], facts: [String: String]) throws -> [Row] {
        let names = facts.keys.sorted()
        let columns = (["v", "pg_typeof(v)::oid::int8 AS type_oid"] + names.map { "(\(facts[$0]!))::text AS \"\($0)\"" })
            .joined(separator: ", ")
        let result = try sql.execute("SELECT \(columns) FROM \(table) ORDER BY id")
        return result.rows.indices.map { row in
            Row(
                text: result.value("v", row: row),
                typeOID: UInt32(result.value("type_oid", row: row)!)!,
                facts: Dictionary(uniqueKeysWithValues: names.map { ($0, result.value($0, row: row)) }),
                literal: literals[row])
        }
    }

    /// Evaluates one SQL expression to text (nil for NULL).
    func evaluate(_ expression: String) throws -> String? {
        try sql.execute("SELECT (\(expression))::text AS x").value("x")
    }
}

extension Array where Element == UInt8 {
    var hex: String { map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
}
