import Foundation
import PGOutput
import PostgresSource
import Testing

/// Multi-row statements. COPY writes its rows with multi-insert WAL records, one per heap
/// page, so several changes share one LSN: the change LSN is not an id, (commit LSN,
/// sequence) is. COPY … FROM STDIN needs the COPY sub-protocol (libpq's PQputCopyData), so
/// this uses COPY … FROM PROGRAM, which the superuser may run on the server.
@Suite struct BulkInsertConformanceTests {
    @Test func insertSelectOfManyRowsArrivesInOrderWithIncreasingSequence() throws {
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE bulk_{s} (n int PRIMARY KEY)", published: ["bulk_{s}"])
        let session = try fixture.ownSession()
        try fixture.execute("INSERT INTO bulk_{s} SELECT generate_series(1, 50)")
        let expected = try fixture.execute("SELECT n FROM bulk_{s} ORDER BY ctid").rows.map { $0[0] }
        let changes = try readTransactions(session, count: 1).compactMap(\.change)
        #expect(changes.map { $0.newValues["n"] ?? nil } == expected)
        #expect(changes.map(\.sequence) == Array(0..<expected.count))
        #expect(zip(changes, changes.dropFirst()).allSatisfy { $0.lsn <= $1.lsn })
        #expect(Set(changes.map(\.xid)).count == 1)
    }

    @Test func copyRowsShareOneLSNAndSequenceStillIncreases() throws {
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE copied_{s} (n int, label text)", published: ["copied_{s}"], publish: "insert")
        let session = try fixture.ownSession()
        // Run by the superuser: COPY FROM PROGRAM needs pg_execute_server_program.
        try fixture.admin.execute(fixture.name("COPY copied_{s} (n) FROM PROGRAM 'seq 1 5'"))
        try fixture.admin.execute(fixture.name("COPY copied_{s} (n, label) FROM PROGRAM 'seq 1001 3000 | sed \"s/$/,row/\"' WITH (FORMAT csv)"))
        let small = try fixture.execute("SELECT n FROM copied_{s} WHERE n <= 5 ORDER BY ctid").rows.map { $0[0] }
        let large = try fixture.execute("SELECT n FROM copied_{s} WHERE n > 1000 ORDER BY ctid").rows.map { $0[0] }
        #expect(small.count == 5 && large.count == 2000)

        let events = try readTransactions(session, count: 2)
        #expect(events.map(\.kind) == ["B"] + Array(repeating: "insert", count: 5) + ["C", "B"] + Array(repeating: "insert", count: 2000) + ["C"])
        let changes = events.compactMap(\.change)
        let first = Array(changes.prefix(5)), second = Array(changes.dropFirst(5))
        #expect(first.map { $0.newValues["n"] ?? nil } == small)
        #expect(second.map { $0.newValues["n"] ?? nil } == large)
        #expect(second.allSatisfy { $0.newValues["label"] == "row" })
        // Five small rows fit one page: one multi-insert record, one LSN for all.
        #expect(Set(first.map(\.lsn)).count == 1)
        // 2000 rows span several pages: fewer LSNs than rows, never going back.
        let lsns = second.map(\.lsn)
        #expect(Set(lsns).count > 1 && Set(lsns).count < lsns.count)
        #expect(zip(lsns, lsns.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(first.map(\.sequence) == Array(0..<5))
        #expect(second.map(\.sequence) == Array(0..<2000))
        // The shared LSN lies inside the transaction: after Begin, before the commit record.
        if case .begin(let begin) = events[0] { #expect(first[0].lsn < begin.commitLSN) }
    }
}
