import Foundation
import PGOutput
import PostgresSource
import Testing

/// Concurrent transactions: whatever the interleaving of their changes in WAL, each arrives
/// whole (Begin, its changes, Commit) and in commit order.
@Suite struct InterleavingConformanceTests {
    @Test func interleavedTransactionsArriveWholeInCommitOrder() throws {
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE ledger_{s} (id serial PRIMARY KEY, who text, n int)", published: ["ledger_{s}"])
        let session = try fixture.ownSession()
        let first = try PostgresConnection(try TestPostgres.url())
        let second = try PostgresConnection(try TestPostgres.url())

        /// Starts a transaction and returns its xid (pg_current_xact_id assigns it now).
        func begin(_ connection: PostgresConnection) throws -> UInt32 {
            try connection.execute("BEGIN")
            let full = try #require(try connection.execute("SELECT pg_current_xact_id()::text AS xid").value("xid").flatMap { UInt64($0) })
            return UInt32(truncatingIfNeeded: full)
        }
        let firstXID = try begin(first)
        let secondXID = try begin(second)
        for n in 1...3 {
            try first.execute(fixture.name("INSERT INTO ledger_{s} (who, n) VALUES ('first', \(n))"))
            try second.execute(fixture.name("INSERT INTO ledger_{s} (who, n) VALUES ('second', \(n))"))
        }
        // Committed in the reverse order of starting.
        try second.execute("COMMIT")
        try first.execute("COMMIT")
        // WAL order of the changes, from the rows' ids (serial): they alternate.
        let walOrder = try fixture.execute("SELECT who FROM ledger_{s} ORDER BY id").rows.map { $0[0] ?? "" }
        #expect(walOrder == ["first", "second", "first", "second", "first", "second"])

        let events = try readTransactions(session, count: 2)
        #expect(events.map(\.kind) == ["B", "insert", "insert", "insert", "C", "B", "insert", "insert", "insert", "C"])
        let commits = events.compactMap(\.commit)
        #expect(commits.map(\.xid) == [secondXID, firstXID])
        #expect(commits[0].commitLSN < commits[1].commitLSN)
        let changes = events.compactMap(\.change)
        #expect(changes.map(\.xid) == [secondXID, secondXID, secondXID, firstXID, firstXID, firstXID])
        #expect(changes.map { $0.newValues["who"] ?? nil } == ["second", "second", "second", "first", "first", "first"])
        #expect(changes.map { $0.newValues["n"] ?? nil } == ["1", "2", "3", "1", "2", "3"])
        #expect(changes.map(\.sequence) == [0, 1, 2, 0, 1, 2])
        // The later-committed transaction started earlier: its changes' LSNs come before the other's.
        #expect(changes[3].lsn < changes[0].lsn)
    }
}
