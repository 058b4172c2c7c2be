import Foundation
import PGOutput
import PostgresSource
import Testing

/// Replica identity USING INDEX and NOTHING (DEFAULT and FULL: ReplicationSessionTests).
@Suite struct ReplicaIdentityConformanceTests {
    @Test func usingIndexSendsTheIndexColumnsAsTheOldKeyOnlyWhenTheyChange() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TABLE idx_{s} (id int PRIMARY KEY, code text NOT NULL, region text NOT NULL, note text);
                CREATE UNIQUE INDEX idx_{s}_key ON idx_{s} (code, region);
                ALTER TABLE idx_{s} REPLICA IDENTITY USING INDEX idx_{s}_key;
                """,
            published: ["idx_{s}"])
        let table = fixture.name("idx_{s}")
        // The identity's columns, from the catalog: the index marked indisreplident.
        let keyColumns = Set(try fixture.execute("""
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = '\(table)'::regclass AND i.indisreplident
            """).rows.map { $0[0] ?? "" })
        #expect(keyColumns == ["code", "region"])

        let session = try fixture.ownSession()
        try fixture.execute("""
            INSERT INTO idx_{s} VALUES (1, 'c1', 'eu', 'first');
            UPDATE idx_{s} SET note = 'second';
            UPDATE idx_{s} SET code = 'c2';
            UPDATE idx_{s} SET id = 2;
            DELETE FROM idx_{s};
            """)
        let changes = try readTransactions(session, count: 1).compactMap(\.change)
        #expect(changes.map(\.operation) == [.insert, .update, .update, .update, .delete])
        let relation = try #require(changes.first?.relation)
        #expect(relation.replicaIdentity == .index)
        #expect(Set(relation.columns.filter(\.isKey).map(\.name)) == keyColumns)

        // Identity unchanged (even when the primary key changes): no old tuple.
        #expect(changes[1].oldTuple == nil && changes[1].newValues["note"] == "second")
        #expect(changes[3].oldTuple == nil && changes[3].newValues["id"] == "2")
        // Identity changed: the old key, every non-key column null.
        guard case .key? = changes[2].oldTuple else { Issue.record("an identity change sends the old key, got \(String(describing: changes[2].oldTuple))"); return }
        let none: String? = nil
        #expect(changes[2].oldValues == ["id": none, "code": "c1", "region": "eu", "note": none])
        #expect(changes[2].newValues == ["id": "1", "code": "c2", "region": "eu", "note": "second"])
        // Delete: always the old key.
        guard case .key? = changes[4].oldTuple else { Issue.record("a delete sends the old key"); return }
        #expect(changes[4].oldValues == ["id": none, "code": "c2", "region": "eu", "note": none])
        #expect(changes[4].newTuple == nil)
    }

    @Test func nothingLetsInsertsFlowAndTheServerRefusesUpdatesAndDeletes() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TABLE none_{s} (id int PRIMARY KEY, note text);
                ALTER TABLE none_{s} REPLICA IDENTITY NOTHING;
                """,
            published: ["none_{s}"], publish: "insert, update, delete")
        let table = fixture.name("none_{s}")
        let session = try fixture.ownSession()
        try fixture.execute("INSERT INTO none_{s} VALUES (1, 'a')")

        // What Postgres does: the UPDATE / DELETE fails on the primary itself.
        let update = #expect(throws: PostgresError.self) { try fixture.execute("UPDATE none_{s} SET note = 'b'") }
        #expect(update?.sqlState == "55000")
        #expect(update?.message == "cannot update table \"\(table)\" because it does not have a replica identity and publishes updates")
        #expect(update?.hint?.contains("REPLICA IDENTITY") == true)
        let delete = #expect(throws: PostgresError.self) { try fixture.execute("DELETE FROM none_{s}") }
        #expect(delete?.sqlState == "55000")
        #expect(delete?.message == "cannot delete from table \"\(table)\" because it does not have a replica identity and publishes deletes")
        #expect(try fixture.execute("SELECT note FROM none_{s} WHERE id = 1").value("note") == "a")

        try fixture.execute("INSERT INTO none_{s} VALUES (2, 'b')")
        let events = try readTransactions(session, count: 2)
        #expect(events.map(\.kind) == ["B", "insert", "C", "B", "insert", "C"])
        let relation = try #require(events.compactMap(\.change).first?.relation)
        #expect(relation.replicaIdentity == .nothing)
        #expect(relation.columns.allSatisfy { !$0.isKey })

        // Preflight says so before a pipeline that needs updates starts, with a fix.
        let tableName = TableName(schema: "public", name: table)
        let report = try fixture.sql.preflight(PreflightRequirements(tables: [tableName], operations: [.update]))
        let problem = try #require(report.problems.first { $0.code == .noReplicaIdentity })
        #expect(problem.message.contains(table))
        #expect(problem.hint?.contains("REPLICA IDENTITY FULL") == true)
        #expect(report.lines.contains("table \(tableName): replica identity nothing"))
        // Inserts alone need no identity.
        let insertsOnly = try fixture.sql.preflight(PreflightRequirements(tables: [tableName], operations: [.insert]))
        #expect(!insertsOnly.problems.contains { $0.code == .noReplicaIdentity })
        // With an identity, the same requirement passes.
        try fixture.execute("ALTER TABLE none_{s} REPLICA IDENTITY FULL")
        let fixed = try fixture.sql.preflight(PreflightRequirements(tables: [tableName], operations: [.update, .delete]))
        #expect(!fixed.problems.contains { $0.code == .noReplicaIdentity })
    }

    @Test func noPrimaryKeyUnderDefaultIsNoIdentityEither() throws {
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE nopk_{s} (id int, note text)", published: ["nopk_{s}"], publish: "insert, delete")
        let tableName = TableName(schema: "public", name: fixture.name("nopk_{s}"))
        let delete = #expect(throws: PostgresError.self) { try fixture.execute("DELETE FROM nopk_{s}") }
        #expect(delete?.sqlState == "55000")
        let report = try fixture.sql.preflight(PreflightRequirements(tables: [tableName], operations: [.delete]))
        #expect(report.problems.contains { $0.code == .noReplicaIdentity && $0.hint != nil })
    }
}
