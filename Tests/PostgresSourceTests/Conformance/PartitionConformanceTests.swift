import Foundation
import PGOutput
import PostgresSource
import Testing

/// A partitioned table: with `publish_via_partition_root = true` changes arrive under the
/// root's relation; without it, under the leaf that holds the row (a row moving between
/// partitions is a delete from one leaf and an insert into the other).
@Suite struct PartitionConformanceTests {
    @Test(arguments: [true, false])
    func changesArriveUnderTheRootOrTheLeaf(viaRoot: Bool) throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TABLE measure_{s} (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
                CREATE TABLE measure_{s}_low PARTITION OF measure_{s} FOR VALUES FROM (0) TO (100);
                CREATE TABLE measure_{s}_high PARTITION OF measure_{s} FOR VALUES FROM (100) TO (200);
                """,
            published: ["measure_{s}"], publicationOptions: "publish_via_partition_root = \(viaRoot)")
        let root = fixture.name("measure_{s}")
        let session = try fixture.ownSession()

        /// The relation Postgres should name for a row that lives (or lived) in `leaf`.
        func expected(leaf: String) throws -> (name: String, oid: UInt32) {
            let name = viaRoot ? root : leaf
            return (name, try fixture.oid(name))
        }
        func leaf(of id: Int) throws -> String {
            try #require(try fixture.execute("SELECT tableoid::regclass::text AS leaf FROM measure_{s} WHERE id = \(id)").value("leaf"))
        }

        try fixture.execute("INSERT INTO measure_{s} VALUES (5, 'low'), (150, 'high')")
        let leafOf5 = try leaf(of: 5), leafOf150 = try leaf(of: 150)
        try fixture.execute("UPDATE measure_{s} SET v = 'low2' WHERE id = 5")
        try fixture.execute("UPDATE measure_{s} SET id = 105 WHERE id = 5")  // moves to the other partition
        let leafOf105 = try leaf(of: 105)
        try fixture.execute("DELETE FROM measure_{s} WHERE id = 150")
        #expect(leafOf5 != leafOf150 && leafOf105 == leafOf150)

        let changes = try readTransactions(session, count: 4).compactMap(\.change)
        let wanted: [(SourceChange.Operation, (name: String, oid: UInt32))] = [
            (.insert, try expected(leaf: leafOf5)), (.insert, try expected(leaf: leafOf150)),
            (.update, try expected(leaf: leafOf5)),
            (.delete, try expected(leaf: leafOf5)), (.insert, try expected(leaf: leafOf105)),
            (.delete, try expected(leaf: leafOf150)),
        ]
        #expect(changes.map(\.operation) == wanted.map(\.0))
        #expect(changes.map(\.relation.name) == wanted.map(\.1.name))
        #expect(changes.map(\.relation.relationID) == wanted.map(\.1.oid))
        #expect(changes.allSatisfy { $0.relation.namespace == "public" })
        let values: [String?] = changes.map { $0.operation == .delete ? ($0.oldValues["id"] ?? nil) : ($0.newValues["v"] ?? nil) }
        #expect(values == ["low", "high", "low2", "5", "low2", "150"])
    }
}
