extension PGTypeRegistry {
    /// Looks `oids` up in the server's pg_type, with every type they are built on (a domain's
    /// base type, an array's element type, transitively), and registers what it finds. OIDs
    /// the server does not know are left out: they decode as text.
    public mutating func load(oids: some Sequence<UInt32>, from connection: PostgresConnection) throws(PostgresError) {
        let list = oids.map(String.init).joined(separator: ",")
        guard !list.isEmpty else { return }
        let result = try connection.execute(
            """
            WITH RECURSIVE wanted(oid) AS (
                SELECT unnest('{\(list)}'::oid[])
                UNION
                SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END
                FROM pg_catalog.pg_type t JOIN wanted w ON t.oid = w.oid
                WHERE t.typtype = 'd' OR t.typelem <> 0
            )
            SELECT t.oid::int8 AS oid, t.typname::text AS name, t.typtype::text AS typtype,
                   t.typcategory::text AS typcategory, t.typbasetype::int8 AS base, t.typelem::int8 AS element
            FROM pg_catalog.pg_type t JOIN wanted w ON t.oid = w.oid
            """)
        for row in result.rows.indices {
            guard let oid = result.value("oid", row: row).flatMap(UInt32.init),
                let name = result.value("name", row: row),
                let typtype = result.value("typtype", row: row),
                let category = result.value("typcategory", row: row),
                let base = result.value("base", row: row).flatMap(UInt32.init),
                let element = result.value("element", row: row).flatMap(UInt32.init)
            else {
                throw PostgresError(code: .protocolViolation, message: "unexpected pg_type row while loading types")
            }
            self[oid] = TypeInfo(
                name: name, typtype: typtype, typcategory: category, baseTypeOID: base, elementTypeOID: element)
        }
    }
}
