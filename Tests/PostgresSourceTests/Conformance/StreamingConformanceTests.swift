import Foundation
import PGOutput
import PostgresSource
import Testing

/// A large in-progress transaction streamed (protocol 2+, `streaming 'on'`) with
/// logical_decoding_work_mem = 64kB set in the walsender session: Stream Start … Stop
/// chunks, a Stream Abort for a subtransaction rolled back after some of its rows were
/// streamed, and a Stream Commit. A consumer drops the aborted subtransaction's changes;
/// what survives is exactly what the table holds.
@Suite struct StreamingConformanceTests {
    @Test func aStreamedTransactionWithARolledBackSavepoint() throws {
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE big_{s} (id serial PRIMARY KEY, phase text, pad text)", published: ["big_{s}"])
        let session = try fixture.ownSession {
            $0.streaming = true
            $0.sessionSettings = ["logical_decoding_work_mem": "64kB"]
        }
        // Statement by statement, to learn the top-level xid from the server.
        try fixture.execute("BEGIN")
        let topXID = try #require(try fixture.execute("SELECT pg_current_xact_id()::text AS xid").value("xid").flatMap { UInt64($0) }.map { UInt32(truncatingIfNeeded: $0) })
        try fixture.execute("INSERT INTO big_{s} (phase, pad) SELECT 'before', repeat('x', 100) FROM generate_series(1, 3000)")
        try fixture.execute("SAVEPOINT s1")
        try fixture.execute("INSERT INTO big_{s} (phase, pad) SELECT 'rolled back', repeat('y', 100) FROM generate_series(1, 3000)")
        try fixture.execute("ROLLBACK TO SAVEPOINT s1")
        try fixture.execute("INSERT INTO big_{s} (phase, pad) SELECT 'after', repeat('z', 100) FROM generate_series(1, 2000)")
        try fixture.execute("COMMIT")
        // What survived, from SQL.
        let expected = try fixture.execute("SELECT phase, count(*)::text AS n FROM big_{s} GROUP BY phase ORDER BY phase").rows
        #expect(expected.map { $0[0] ?? "" } == ["after", "before"])

        // Other tests' large transactions are streamed to this walsender too (as chunks
        // without changes: their tables are not published here): wait for this one's commit.
        let events = try readEvents(session, seconds: 30) { events in
            if case .streamCommit(let commit)? = events.last { commit.xid == topXID } else { false }
        }

        // A consumer: changes in a stream block belong to the block's (top-level) transaction;
        // each carries the xid of the (sub)transaction that made it, which a Stream Abort names.
        var blockXID: UInt32?
        var chunks = 0
        var changes: [UInt32: [SourceChange]] = [:]  // by top-level xid
        var aborts: [(xid: UInt32, sub: UInt32)] = []
        var committed: [SourceChange] = []
        var rolledBackXIDs: Set<UInt32> = []
        for event in events {
            switch event {
            case .streamStart(let xid, _):
                #expect(blockXID == nil)
                blockXID = xid
                if xid == topXID { chunks += 1 }
            case .streamStop:
                #expect(blockXID != nil)
                blockXID = nil
            case .change(let change):
                guard let block = blockXID else { Issue.record("a change outside a stream block: not streamed"); continue }
                changes[block, default: []].append(change)
                if block == topXID && change.newValues["phase"] == "rolled back" { rolledBackXIDs.insert(change.xid) }
            case .streamAbort(let xid, let sub):
                if xid == topXID { aborts.append((xid, sub)) }
                changes[xid] = changes[xid]?.filter { sub != xid && $0.xid != sub }
            case .streamCommit(let commit):
                let transaction = changes.removeValue(forKey: commit.xid) ?? []
                if commit.xid == topXID { committed = transaction } else { #expect(transaction.isEmpty) }
            default:
                break
            }
        }
        #expect(chunks >= 2, "a transaction far over 64kB streams in several chunks; got \(chunks)")
        #expect(aborts.count == 1)
        #expect(aborts.first?.xid == topXID && aborts.first?.sub != topXID)
        // The rolled-back rows that were streamed before the rollback name that subtransaction.
        // Whether any were streamed is the server's choice: at its memory limit it streams (or
        // spills to disk) the largest transaction of the whole database, and other tests' large
        // transactions run at the same time.
        #expect(rolledBackXIDs.count <= 1)
        #expect(rolledBackXIDs.isSubset(of: aborts.map(\.sub)))
        #expect(committed.count == expected.reduce(0) { $0 + (Int($1[1] ?? "") ?? 0) })
        #expect(committed.count == 5000)
        var surviving: [String: Int] = [:]
        for change in committed { surviving[change.newValues["phase"].flatMap { $0 } ?? "?", default: 0] += 1 }
        #expect(surviving == Dictionary(uniqueKeysWithValues: expected.map { ($0[0] ?? "", Int($0[1] ?? "") ?? 0) }))
        // Sequence numbers order the whole transaction, subtransactions included.
        let sequences = committed.map(\.sequence)
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 }, "sequence numbers must increase across the transaction")
        // After the Stream Commit nothing of it stays open, so a quiet slot can be acknowledged
        // again: the session becomes idle once other tests' streamed transactions end too (this
        // walsender decodes the whole database's WAL, the 200k-row test's transaction included).
        let deadline = ContinuousClock.now.advanced(by: .seconds(40))
        while !session.assembler.isIdle {
            guard ContinuousClock.now < deadline else { Issue.record("the session never became idle after the Stream Commit"); break }
            _ = try session.next(timeoutMilliseconds: 200)
        }
    }

    @Test func theWorkMemSettingReachesTheWalsender() throws {
        // The same transaction without the session setting is not streamed (64MB default):
        // so the chunks above come from the SET on the replication connection.
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE mid_{s} (id serial PRIMARY KEY, pad text)", published: ["mid_{s}"])
        let session = try fixture.ownSession { $0.streaming = true }
        try fixture.execute("INSERT INTO mid_{s} (pad) SELECT repeat('x', 100) FROM generate_series(1, 3000)")
        let events = try readTransactions(session, count: 1)
        #expect(events.first?.kind == "B")
        #expect(!events.contains { if case .streamStart = $0 { true } else { false } })
        #expect(events.compactMap(\.change).count == 3000)
    }
}
