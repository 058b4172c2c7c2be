import Foundation
import PGOutput
import PostgresSource
import Testing

@Suite struct ReplicationSessionTests {
    static let outbox = """
        CREATE TABLE outbox_{s} (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
                                 type text NOT NULL, payload jsonb)
        """

    @Test func insertsArriveAsTransactionsInCommitOrder() throws {
        let fixture = try ReplicationFixture(tablesSQL: Self.outbox, published: ["outbox_{s}"], publish: "insert")
        let session = try fixture.session()
        try fixture.execute("""
            BEGIN;
            INSERT INTO outbox_{s} VALUES ('00000000-0000-0000-0000-000000000001', 'order', 'o-1', 'OrderCreated', '{"total": 10.50}');
            INSERT INTO outbox_{s} VALUES ('00000000-0000-0000-0000-000000000002', 'order', 'o-1', 'OrderPaid', '{"paid": true}');
            COMMIT;
            """)
        try fixture.execute("INSERT INTO outbox_{s} VALUES ('00000000-0000-0000-0000-000000000003', 'customer', 'c-9', 'CustomerMoved', NULL)")

        let events = rowTransactions(try readTransactions(session, count: 2))
        #expect(events.map(\.kind) == ["B", "insert", "insert", "C", "B", "insert", "C"])
        let changes = events.compactMap(\.change)
        #expect(changes.map { $0.newValues["aggregateid"] } == ["o-1", "o-1", "c-9"])
        #expect(changes[0].newValues["payload"] == #"{"total": 10.50}"#)  // jsonb text as Postgres prints it
        #expect(changes[2].newValues["payload"] == .some(nil))
        #expect(changes.map(\.sequence) == [0, 1, 0])
        #expect(changes[0].table == TableName(schema: "public", name: "outbox_\(fixture.suffix)"))

        let commits = events.compactMap(\.commit)
        #expect(commits[0].commitLSN < commits[1].commitLSN)
        #expect(commits.allSatisfy { $0.endLSN > $0.commitLSN })
        // Begin's final LSN is the commit LSN.
        if case .begin(let begin) = events[0] { #expect(begin.commitLSN == commits[0].commitLSN) }
        #expect(changes[0].xid == commits[0].xid && changes[2].xid == commits[1].xid)
    }

    @Test func aRolledBackTransactionYieldsNothing() throws {
        let fixture = try ReplicationFixture(tablesSQL: Self.outbox, published: ["outbox_{s}"], publish: "insert")
        let session = try fixture.session()
        try fixture.execute("BEGIN; INSERT INTO outbox_{s} VALUES (gen_random_uuid(), 'order', 'rolled-back', 'X', '{}'); ROLLBACK;")
        try fixture.execute("""
            BEGIN;
            INSERT INTO outbox_{s} VALUES (gen_random_uuid(), 'order', 'kept-1', 'X', '{}');
            SAVEPOINT s1;
            INSERT INTO outbox_{s} VALUES (gen_random_uuid(), 'order', 'rolled-back-savepoint', 'X', '{}');
            ROLLBACK TO SAVEPOINT s1;
            INSERT INTO outbox_{s} VALUES (gen_random_uuid(), 'order', 'kept-2', 'X', '{}');
            COMMIT;
            """)
        try fixture.execute("INSERT INTO outbox_{s} VALUES (gen_random_uuid(), 'order', 'marker', 'X', '{}')")
        let events = try readTransactions(session, count: 2)
        let keys = events.compactMap(\.change).map { $0.newValues["aggregateid"] ?? nil }
        #expect(keys == ["kept-1", "kept-2", "marker"])
    }

    @Test func updatesAndDeletesCarryTheOldKeyOrRowByReplicaIdentity() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TABLE dflt_{s} (id int PRIMARY KEY, status text, note text);
                CREATE TABLE full_{s} (id int PRIMARY KEY, status text, note text);
                ALTER TABLE full_{s} REPLICA IDENTITY FULL;
                """,
            published: ["dflt_{s}", "full_{s}"])
        let session = try fixture.session()
        try fixture.execute("""
            INSERT INTO dflt_{s} VALUES (1, 'new', 'a'); INSERT INTO full_{s} VALUES (1, 'new', 'a');
            UPDATE dflt_{s} SET status = 'paid'; UPDATE full_{s} SET status = 'paid';
            UPDATE dflt_{s} SET id = 2; DELETE FROM dflt_{s}; DELETE FROM full_{s};
            """)
        let changes = try readTransactions(session, count: 1).compactMap(\.change)  // one multi-statement query: one transaction
        try #require(changes.count == 7)
        #expect(changes.map(\.operation) == [.insert, .insert, .update, .update, .update, .delete, .delete])
        // DEFAULT: an update that keeps the key sends no old tuple.
        #expect(changes[2].oldTuple == nil)
        #expect(changes[2].newValues["status"] == "paid")
        // FULL: the whole old row.
        guard case .oldRow? = changes[3].oldTuple else { Issue.record("FULL sends the old row"); return }
        #expect(changes[3].oldValues["status"] == "new" && changes[3].oldValues["note"] == "a")
        // DEFAULT, key changed: the old key, other columns null.
        guard case .key? = changes[4].oldTuple else { Issue.record("a key change sends the old key"); return }
        #expect(changes[4].oldValues["id"] == "1" && changes[4].oldValues["status"] == .some(nil))
        #expect(changes[5].oldValues["id"] == "2")
        #expect(changes[6].oldValues["note"] == "a")
    }

    @Test func anUnchangedToastedColumnIsNeverNull() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TABLE dflt_{s} (id int PRIMARY KEY, status text, big text);
                CREATE TABLE full_{s} (id int PRIMARY KEY, status text, big text);
                ALTER TABLE full_{s} REPLICA IDENTITY FULL;
                ALTER TABLE dflt_{s} ALTER COLUMN big SET STORAGE EXTERNAL;
                ALTER TABLE full_{s} ALTER COLUMN big SET STORAGE EXTERNAL;
                """,
            published: ["dflt_{s}", "full_{s}"])
        let session = try fixture.session()
        let big = String(repeating: "0123456789abcdef", count: 512)  // 8 KiB: stored out of line
        try fixture.execute("""
            INSERT INTO dflt_{s} VALUES (1, 'new', '\(big)'); INSERT INTO full_{s} VALUES (1, 'new', '\(big)');
            UPDATE dflt_{s} SET status = 'paid'; UPDATE full_{s} SET status = 'paid';
            """)
        let changes = try readTransactions(session, count: 1).compactMap(\.change)
        try #require(changes.count == 4)
        #expect(changes[2].newValues["big"] == "<unchanged toast>")
        #expect(changes[2].newTuple?.columns[2] == .unchangedToast)
        #expect(changes[3].newValues["big"] == .some(big))  // filled from the FULL old row
    }

    @Test func truncateCarriesCascadeAndRestartIdentity() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: """
                CREATE TABLE parent_{s} (id serial PRIMARY KEY);
                CREATE TABLE child_{s} (id int PRIMARY KEY, parent int REFERENCES parent_{s});
                """,
            published: ["parent_{s}", "child_{s}"])
        let session = try fixture.session()
        try fixture.execute("INSERT INTO parent_{s} DEFAULT VALUES; INSERT INTO child_{s} VALUES (1, 1)")
        try fixture.execute("TRUNCATE parent_{s} RESTART IDENTITY CASCADE")
        let changes = try readTransactions(session, count: 2).compactMap(\.change)
        try #require(changes.count == 3)
        let truncate = try #require(changes.last)
        #expect(truncate.operation == .truncate)
        #expect(Set(truncate.truncatedRelations.map(\.name)) == ["parent_\(fixture.suffix)", "child_\(fixture.suffix)"])
        #expect(truncate.truncateOptions == [.cascade, .restartIdentity])
    }

    @Test func logicalMessagesTransactionalAndNot() throws {
        let fixture = try ReplicationFixture(tablesSQL: Self.outbox, published: ["outbox_{s}"], publish: "insert")
        let session = try fixture.session()
        try fixture.execute("""
            BEGIN;
            SELECT pg_logical_emit_message(true, 'outflow-test-{s}', 'in a rolled back transaction');
            SELECT pg_logical_emit_message(false, 'outflow-test-{s}', 'survives the rollback');
            ROLLBACK;
            """)
        try fixture.execute("SELECT pg_logical_emit_message(true, 'outflow-test-{s}', 'committed')")
        let events = try readEvents(session) { events in
            events.contains { if case .message(let message) = $0 { String(decoding: message.content, as: UTF8.self) == "committed" } else { false } }
        }
        // Logical messages are not filtered by publication: every slot of the database sees
        // every test's messages, so keep this test's own.
        let messages = events.compactMap { if case .message(let message) = $0, message.prefix == "outflow-test-\(fixture.suffix)" { message } else { nil } }
        #expect(messages.map { String(decoding: $0.content, as: UTF8.self) } == ["survives the rollback", "committed"])
        #expect(messages.map(\.isTransactional) == [false, true])
        #expect(messages.allSatisfy { $0.prefix == "outflow-test-\(fixture.suffix)" })
    }

    @Test func restartingFromTheAcknowledgedEndLSNSendsNothingTwiceAndLosesNothing() throws {
        let fixture = try ReplicationFixture(tablesSQL: Self.outbox, published: ["outbox_{s}"], publish: "insert")
        for key in ["a", "b", "c"] {
            try fixture.execute("INSERT INTO outbox_{s} VALUES (gen_random_uuid(), 'order', '\(key)', 'X', '{}')")
        }
        var session = try fixture.session()
        let first = rowTransactions(try readTransactions(session, count: 3))
        let commits = first.compactMap(\.commit)
        // The sink made the first transaction durable only.
        session.markDurable(commits[0].endLSN)
        try session.sendStatus(force: true)
        session.close()
        #expect(try fixture.confirmedFlush() == commits[0].endLSN)

        session = try fixture.session(durable: commits[0].endLSN)
        let again = rowTransactions(try readTransactions(session, count: 2))
        #expect(again.compactMap(\.change).map { $0.newValues["aggregateid"] ?? nil } == ["b", "c"])
        #expect(again.compactMap(\.commit) == Array(commits[1...]))
    }

    @Test func neverAcknowledgesBeyondWhatIsDurable() throws {
        let fixture = try ReplicationFixture(tablesSQL: Self.outbox, published: ["outbox_{s}"], publish: "insert")
        let session = try fixture.session()
        try fixture.execute("INSERT INTO outbox_{s} VALUES (gen_random_uuid(), 'order', 'k', 'X', '{}')")
        let commit = try #require(rowTransactions(try readTransactions(session, count: 1)).compactMap(\.commit).first)
        // Nothing reported durable: even a forced status stays before the transaction (an idle
        // keepalive before it may have moved the slot up to, never past, its commit record).
        try session.sendStatus(force: true)
        session.close()
        let confirmed = try #require(try fixture.confirmedFlush())
        #expect(confirmed <= commit.commitLSN)
        let replayed = rowTransactions(try readTransactions(try fixture.session(), count: 1))
        #expect(replayed.compactMap(\.commit) == [commit])
    }

    @Test func anIdleSlotFollowsTheWALOfUnpublishedTables() throws {
        let fixture = try ReplicationFixture(
            tablesSQL: Self.outbox + "; CREATE TABLE other_{s} (id int)", published: ["outbox_{s}"], publish: "insert")
        let session = try fixture.session()
        try fixture.execute("INSERT INTO other_{s} SELECT generate_series(1, 1000)")
        let written = try fixture.currentWAL()
        // Nothing published changed, so nothing is in flight: the keepalives' WAL end may be acknowledged.
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while (try fixture.confirmedFlush() ?? .zero) < written {
            guard ContinuousClock.now < deadline else {
                Issue.record("the slot's confirmed position stayed at \(try fixture.confirmedFlush()?.description ?? "-"), behind \(written)")
                return
            }
            // Other tests' logical messages reach every slot; no change of this test's tables may.
            if let change = try session.next(timeoutMilliseconds: 200)?.change { Issue.record("unexpected change \(change.operation)") }
        }
    }

    @Test func aQuietStreamWritesHeartbeatsThatMoveTheSlot() throws {
        let fixture = try ReplicationFixture(tablesSQL: Self.outbox, published: ["outbox_{s}"], publish: "insert")
        let session = try fixture.session { $0.heartbeatInterval = .milliseconds(200) }
        let before = try #require(try fixture.confirmedFlush())
        // A heartbeat is a transaction of its own: Begin, the message, Commit.
        let events = try readEvents(session) { events in
            events.contains { if case .message(let message) = $0 { message.prefix == ReplicationSession.heartbeatPrefix } else { false } }
                && events.last.map { if case .commit = $0 { true } else { false } } == true
        }
        let commit = try #require(events.last?.commit)
        session.markDurable(commit.endLSN)
        try session.sendStatus(force: true)
        session.close()
        #expect(try #require(try fixture.confirmedFlush()) >= commit.endLSN)
        #expect(commit.endLSN > before)
    }

    @Test func aSlotInUseIsAClearError() throws {
        let fixture = try ReplicationFixture(tablesSQL: Self.outbox, published: ["outbox_{s}"], publish: "insert")
        let session = try fixture.session()
        _ = session
        let error = #expect(throws: PostgresError.self) {
            try fixture.session { $0.maximumReconnectAttempts = 0 }
        }
        #expect(error?.sqlState == "55006")
        #expect(error?.message.contains("is active") == true)
    }
}

