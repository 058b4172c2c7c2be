import Foundation
import PGOutput
import PostgresSource
import Testing

/// ALTER TABLE in the middle of the stream: DDL is not replicated, but a new Relation arrives
/// before the next change, and changes decode with the column set of their time — by name,
/// never by attnum (a dropped column leaves a gap in attnums; pgoutput leaves it out).
@Suite struct SchemaChangeConformanceTests {
    @Test func addAndDropColumnMidStreamBringANewRelation() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: "CREATE TABLE ddl_{s} (id int PRIMARY KEY, a text, b text)", published: ["ddl_{s}"])
        let table = fixture.name("ddl_{s}")
        let session = try fixture.ownSession()
        var expectedColumns: [[String]] = []

        try fixture.execute("INSERT INTO ddl_{s} VALUES (1, 'a1', 'b1')")
        expectedColumns.append(try fixture.catalogColumns(table).map(\.name))
        // Read the first transaction before altering, so its Relation is the old one for sure.
        let first = try readTransactions(session, count: 1).compactMap(\.change)

        try fixture.execute("ALTER TABLE ddl_{s} DROP COLUMN a")
        try fixture.execute("INSERT INTO ddl_{s} VALUES (2, 'b2')")
        expectedColumns.append(try fixture.catalogColumns(table).map(\.name))
        try fixture.execute("ALTER TABLE ddl_{s} ADD COLUMN c int DEFAULT 7")
        try fixture.execute("INSERT INTO ddl_{s} (id, b, c) VALUES (3, 'b3', 33)")
        expectedColumns.append(try fixture.catalogColumns(table).map(\.name))
        // DDL inside the transaction: the Relation is sent again between its changes.
        try fixture.execute("""
            BEGIN;
            UPDATE ddl_{s} SET b = 'b1-updated' WHERE id = 1;
            ALTER TABLE ddl_{s} ADD COLUMN d text;
            UPDATE ddl_{s} SET d = 'd2' WHERE id = 2;
            COMMIT;
            """)
        let columnsBeforeD = expectedColumns.last!
        expectedColumns.append(try fixture.catalogColumns(table).map(\.name))

        let rest = try readTransactions(session, count: 3).compactMap(\.change)
        let changes = first + rest
        #expect(changes.map(\.operation) == [.insert, .insert, .insert, .update, .update])
        #expect(expectedColumns == [["id", "a", "b"], ["id", "b"], ["id", "b", "c"], ["id", "b", "c", "d"]])
        #expect(changes.map { $0.relation.columns.map(\.name) } == [
            expectedColumns[0], expectedColumns[1], expectedColumns[2], columnsBeforeD, expectedColumns[3],
        ])
        // One table throughout: the same relation id, announced anew.
        #expect(Set(changes.map(\.relation.relationID)) == [try fixture.oid(table)])
        #expect(changes.map { $0.newTuple?.columns.count } == changes.map { $0.relation.columns.count })

        #expect(changes[0].newValues == ["id": "1", "a": "a1", "b": "b1"])
        #expect(changes[1].newValues == ["id": "2", "b": "b2"])  // after the drop: b is the 2nd value, attnum 3
        #expect(changes[2].newValues == ["id": "3", "b": "b3", "c": "33"])
        // The row added before the column existed reads the default (a "missing" attribute).
        #expect(changes[3].newValues == ["id": "1", "b": "b1-updated", "c": "7"])
        #expect(changes[4].newValues == ["id": "2", "b": "b2", "c": "7", "d": "d2"])
        // Type OIDs as the catalog has them, column by column.
        let catalog = try fixture.catalogColumns(table)
        #expect(changes[4].relation.columns.map(\.typeOID) == catalog.map(\.typeOID))
        // The transaction with DDL inside it stayed one transaction.
        #expect(changes[3].xid == changes[4].xid && changes[4].sequence == 1)
    }

    @Test func renameAndRetypeColumnArriveAsTheNewRelation() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: "CREATE TABLE ren_{s} (id int PRIMARY KEY, amount int)", published: ["ren_{s}"])
        let table = fixture.name("ren_{s}")
        let session = try fixture.ownSession()
        try fixture.execute("INSERT INTO ren_{s} VALUES (1, 10)")
        _ = try readTransactions(session, count: 1)
        try fixture.execute("ALTER TABLE ren_{s} RENAME COLUMN amount TO total")
        try fixture.execute("ALTER TABLE ren_{s} ALTER COLUMN total TYPE numeric(10,2)")
        try fixture.execute("INSERT INTO ren_{s} VALUES (2, 20.5)")
        let catalog = try fixture.catalogColumns(table)
        let change = try #require(try readTransactions(session, count: 1).compactMap(\.change).first)
        #expect(change.relation.columns.map(\.name) == catalog.map(\.name))
        #expect(change.relation.columns.map(\.typeOID) == catalog.map(\.typeOID))
        #expect(change.relation.columns.map(\.typeModifier) == catalog.map(\.typeModifier))
        #expect(change.newValues == ["id": "2", "total": "20.50"])
    }
}
