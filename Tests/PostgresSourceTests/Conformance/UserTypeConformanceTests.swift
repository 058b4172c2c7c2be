import Foundation
import PGOutput
import PostgresSource
import Testing

/// Enum and domain columns: a Type message precedes the Relation for each user type
/// (OID ≥ 10000) and lands in `assembler.types`. For a domain, Postgres names its base type.
@Suite struct UserTypeConformanceTests {
    @Test func enumAndDomainColumnsAnnounceTheirTypes() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TYPE mood_{s} AS ENUM ('sad', 'ok', 'happy');
                CREATE DOMAIN positive_{s} AS int4 CHECK (VALUE > 0);
                CREATE DOMAIN label_{s} AS varchar(20);
                CREATE TABLE feelings_{s} (id int PRIMARY KEY, mood mood_{s}, moods mood_{s}[], score positive_{s}, tag label_{s});
                """,
            published: ["feelings_{s}"])
        let table = fixture.name("feelings_{s}")
        let session = try fixture.ownSession()
        try fixture.execute("INSERT INTO feelings_{s} VALUES (1, 'happy', '{sad,ok}', 42, 'x'), (2, NULL, NULL, NULL, NULL)")
        let changes = try readTransactions(session, count: 1).compactMap(\.change)

        // What the Type message should say, from the catalog: the type's own OID; the name and
        // schema of its base type (for a domain) or of itself; "" for pg_catalog.
        let catalog = try fixture.execute("""
            SELECT t.oid::int8::text, CASE WHEN bn.nspname = 'pg_catalog' THEN '' ELSE bn.nspname END, b.typname
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
            JOIN pg_namespace bn ON bn.oid = b.typnamespace
            WHERE a.attrelid = '\(table)'::regclass AND a.attnum > 1 ORDER BY a.attnum
            """).rows
        #expect(catalog.count == 4)
        let types = session.assembler.types
        for row in catalog {
            let oid = try #require(row[0].flatMap { UInt32($0) })
            let announced = types[oid]
            #expect(announced?.namespace == row[1] && announced?.name == row[2], "type \(oid): announced \(String(describing: announced)), the catalog says \(row[1] ?? "-").\(row[2] ?? "-")")
        }
        #expect(catalog.map { $0[2] } == [table.replacingOccurrences(of: "feelings", with: "mood"), "_" + table.replacingOccurrences(of: "feelings", with: "mood"), "int4", "varchar"])

        let relation = try #require(changes.first?.relation)
        #expect(relation.columns.map(\.typeOID) == (try fixture.catalogColumns(table)).map(\.typeOID))
        let none: String? = nil
        #expect(changes.map(\.newValues) == [
            ["id": "1", "mood": "happy", "moods": "{sad,ok}", "score": "42", "tag": "x"],
            ["id": "2", "mood": none, "moods": none, "score": none, "tag": none],
        ])
    }

    @Test func addingAnEnumValueMidStreamDecodesTheNewLabel() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TYPE state_{s} AS ENUM ('new');
                CREATE TABLE orders_{s} (id int PRIMARY KEY, state state_{s});
                """,
            published: ["orders_{s}"])
        let session = try fixture.ownSession()
        try fixture.execute("INSERT INTO orders_{s} VALUES (1, 'new')")
        try fixture.execute("ALTER TYPE state_{s} ADD VALUE 'shipped'")
        try fixture.execute("UPDATE orders_{s} SET state = 'shipped'")
        let changes = try readTransactions(session, count: 2).compactMap(\.change)
        #expect(changes.map { $0.newValues["state"] ?? nil } == ["new", "shipped"])
        let oid = try #require(try fixture.execute("SELECT 'state_{s}'::regtype::oid::int8::text AS oid").value("oid").flatMap { UInt32($0) })
        #expect(session.assembler.types[oid]?.name == fixture.name("state_{s}"))
    }
}
