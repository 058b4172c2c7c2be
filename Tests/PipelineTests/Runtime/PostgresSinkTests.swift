import Foundation
import Logging
import PGOutput
import PostgresSource
import Testing
@testable import Pipeline

/// The Postgres sink against the sandbox server: the pipeline reads an outbox table of its own
/// and writes into a second database created for the test (the consumer's inbox).
@Suite struct PostgresSinkTests {
    /// A database of the test's own on the sandbox server, owned by the pipeline's role.
    final class InboxDatabase {
        let name = "inbox_test_\(UInt32.random(in: 0...UInt32.max))"
        let admin: PostgresConnection
        let url: ConnectionString
        let sql: PostgresConnection

        init() throws {
            guard let adminText = ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_ADMIN_URL"], !adminText.isEmpty,
                  let userText = ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_URL"], !userText.isEmpty
            else { throw MissingTestDatabase() }
            admin = try PostgresConnection(try ConnectionString(adminText))
            try admin.execute("CREATE DATABASE \(name) OWNER outflow")
            var components = try #require(URLComponents(string: userText))
            components.path = "/\(name)"
            url = try ConnectionString(try #require(components.string))
            sql = try PostgresConnection(url)
        }

        deinit {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }

        func rows(_ query: String) throws -> [[String?]] { try sql.execute(query).rows }
        func value(_ query: String) throws -> String? { try sql.execute(query).rows.first?.first ?? nil }
    }

    static func settings(_ inbox: InboxDatabase, pipeline: String = "orders", events: String? = "inbox_events", upsert: String? = nil) -> PostgresSink.Settings {
        var settings = PostgresSink.Settings(
            connectionString: inbox.url, schema: "outflow", eventsTable: events, upsertTable: upsert, processedWindow: .seconds(3600), createTables: true,
            pipelineName: pipeline, databaseName: "outflow", configHash: "test")
        settings.lockWait = .milliseconds(300)
        settings.pruneInterval = .zero
        return settings
    }

    /// Runs the outbox pipeline into `sink` until `transactions` source transactions were read.
    @discardableResult
    static func run(_ harness: OutboxHarness, sink: PostgresSink, guarantee: DeliveryGuarantee = .exactlyOnce, transactions: Int) throws -> RunnerProgress {
        var settings = PipelineRunner.Settings(pipelineName: "orders", deadLetterTopic: "orders.dead-letter")
        settings.guarantee = guarantee
        let runner = try PipelineRunner(graph: try harness.stages(dedupe: false), sink: sink, settings: settings)
        let source = try ReplicationSession(settings: harness.replicationSettings(), durable: runner.committedPosition)
        defer { source.close() }
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        try runner.run(source: ReplicationSource(source), shouldStop: {
            runner.progress.sourceTransactions + runner.progress.skippedTransactions >= transactions || ContinuousClock.now >= deadline
        })
        return runner.progress
    }

    @Test func recordsLandWithTheDocumentedColumnsAndTheCheckpoint() throws {
        let harness = try OutboxHarness()
        let inbox = try InboxDatabase()
        let first = UUID().uuidString.lowercased(), second = UUID().uuidString.lowercased(), rolledBack = UUID().uuidString.lowercased()
        try harness.sql.execute("BEGIN; " + harness.insert(id: first, key: "A", payload: #"{"n": 1}"#) + harness.insert(id: second, key: "B", payload: #"{"n": 2}"#) + " COMMIT")
        try harness.sql.execute("BEGIN; " + harness.insert(id: rolledBack, key: "A") + " ROLLBACK")
        let sink = PostgresSink(settings: Self.settings(inbox), logger: Logger(label: "test"))
        let progress = try Self.run(harness, sink: sink, transactions: 1)
        sink.close()
        #expect(progress.records == 2)

        let rows = try inbox.rows("""
            SELECT event_id, topic, convert_from(key, 'UTF8'), convert_from(value, 'UTF8')::jsonb ->> 'n', headers ->> 'type', headers ->> 'id',
                   source_lsn::text, source_xid::text, source_ordinal::text, source_commit_time IS NOT NULL
            FROM outflow.inbox_events ORDER BY source_lsn, source_ordinal
            """)
        #expect(rows.map { $0[0] } == [first, second])
        #expect(rows.allSatisfy { $0[1] == "outbox.event.order" && $0[4] == "Created" && $0[9] == "t" })
        #expect(rows.map { $0[2] } == ["A", "B"])
        #expect(rows.map { $0[3] } == ["1", "2"])
        #expect(rows.map { $0[5] } == [first, second])
        #expect(rows.map { $0[8] } == ["0", "1"])
        #expect(rows[0][6] == rows[1][6] && rows[0][7] == rows[1][7])
        // The ids are processed, and the checkpoint is the committed position.
        #expect(try inbox.value("SELECT count(*) FROM outflow.processed_messages WHERE pipeline = 'orders'") == "2")
        let checkpoint = try #require(try inbox.value("SELECT source_end::text FROM outflow.checkpoints WHERE pipeline = 'orders'"))
        #expect(LSN(checkpoint) == progress.durable)
        let restarted = PostgresSink(settings: Self.settings(inbox), logger: Logger(label: "test"))
        #expect(try restarted.lastCheckpoint()?.sourceEnd == progress.durable)
    }

    @Test func aRedeliveredIdIsANoOpInEveryMode() throws {
        for guarantee in [DeliveryGuarantee.exactlyOnce, .atLeastOnce] {
            let harness = try OutboxHarness()
            // The same event id twice, as an outbox written twice (or a redelivery) would bring it.
            try harness.sql.execute("ALTER TABLE \(harness.table) DROP CONSTRAINT \(harness.table)_pkey")
            let inbox = try InboxDatabase()
            let id = UUID().uuidString.lowercased()
            try harness.sql.execute(harness.insert(id: id, key: "A", payload: #"{"n": 1}"#))
            try harness.sql.execute("BEGIN; " + harness.insert(id: id, key: "A", payload: #"{"n": 2}"#) + harness.insert(id: id, key: "A", payload: #"{"n": 3}"#) + " COMMIT")
            let sink = PostgresSink(settings: Self.settings(inbox, upsert: "latest"), logger: Logger(label: "test"))
            let progress = try Self.run(harness, sink: sink, guarantee: guarantee, transactions: 2)
            sink.close()
            #expect(progress.records == 3, "\(guarantee)")
            #expect(try inbox.rows("SELECT convert_from(value, 'UTF8')::jsonb ->> 'n' FROM outflow.inbox_events").map { $0[0] } == ["1"], "\(guarantee)")
            // The later copies are newer by position, yet they change nothing: the id was processed.
            #expect(try inbox.rows("SELECT convert_from(value, 'UTF8')::jsonb ->> 'n' FROM outflow.latest").map { $0[0] } == ["1"], "\(guarantee)")
            #expect(try inbox.value("SELECT count(*) FROM outflow.processed_messages") == "1", "\(guarantee)")
        }
    }

    @Test func theUpsertKeepsTheNewestValuePerKeyAndANullValueDeletesIt() throws {
        let harness = try OutboxHarness()
        let inbox = try InboxDatabase()
        try harness.sql.execute("BEGIN; " + harness.insert(key: "A", payload: #"{"v": 1}"#) + harness.insert(key: "B", payload: #"{"v": 1}"#)
            + harness.insert(key: "A", payload: #"{"v": 2}"#) + " COMMIT")
        try harness.sql.execute("BEGIN; " + harness.insert(key: "C", payload: #"{"v": 1}"#) + harness.insert(key: "B", payload: nil) + " COMMIT")
        let sink = PostgresSink(settings: Self.settings(inbox, events: nil, upsert: "latest"), logger: Logger(label: "test"))
        try Self.run(harness, sink: sink, transactions: 2)
        sink.close()
        let latest = try inbox.rows("SELECT convert_from(key, 'UTF8'), convert_from(value, 'UTF8')::jsonb ->> 'v' FROM outflow.latest ORDER BY key")
        #expect(latest.map { "\($0[0] ?? "")=\($0[1] ?? "")" } == ["A=2", "C=1"])
        #expect(try inbox.value("SELECT to_regclass('outflow.inbox_events') IS NULL") == "t")

        // A row whose stored position is newer than what arrives is left alone.
        try inbox.sql.execute("UPDATE outflow.latest SET source_lsn = 'FFFFFFFF/0' WHERE key = 'A'")
        try harness.sql.execute(harness.insert(key: "A", payload: #"{"v": 3}"#) + harness.insert(key: "C", payload: #"{"v": 3}"#))
        let again = PostgresSink(settings: Self.settings(inbox, events: nil, upsert: "latest"), logger: Logger(label: "test"))
        try Self.run(harness, sink: again, transactions: 1)
        let after = try inbox.rows("SELECT convert_from(key, 'UTF8'), convert_from(value, 'UTF8')::jsonb ->> 'v' FROM outflow.latest ORDER BY key")
        #expect(after.map { "\($0[0] ?? "")=\($0[1] ?? "")" } == ["A=2", "C=3"])
    }

    @Test func processedIdsOlderThanTheWindowArePrunedInBatches() throws {
        let harness = try OutboxHarness()
        let inbox = try InboxDatabase()
        try harness.sql.execute("BEGIN; " + (0..<10).map { harness.insert(key: "K\($0)") }.joined() + " COMMIT")
        try Self.run(harness, sink: PostgresSink(settings: Self.settings(inbox), logger: Logger(label: "test")), transactions: 1)
        #expect(try inbox.value("SELECT count(*) FROM outflow.processed_messages") == "10")
        // Nine of them fall out of the window; the pipeline's next commits prune 2 ids a statement, 4 statements a round.
        try inbox.sql.execute("""
            UPDATE outflow.processed_messages SET processed_at = now() - interval '2 hours'
            WHERE event_id IN (SELECT event_id FROM outflow.processed_messages ORDER BY event_id LIMIT 9)
            """)
        var settings = Self.settings(inbox)
        settings.pruneBatch = 2
        settings.pruneBatches = 4
        try harness.sql.execute(harness.insert(key: "new"))
        try Self.run(harness, sink: PostgresSink(settings: settings, logger: Logger(label: "test")), transactions: 1)
        // One round: 8 of the 9 old ids, none of the recent ones.
        #expect(try inbox.value("SELECT count(*) FROM outflow.processed_messages WHERE processed_at < now() - interval '1 hour'") == "1")
        #expect(try inbox.value("SELECT count(*) FROM outflow.processed_messages WHERE processed_at > now() - interval '1 hour'") == "2")
        // The events themselves are the consumer's: never pruned by the sink.
        #expect(try inbox.value("SELECT count(*) FROM outflow.inbox_events") == "11")
    }

    @Test func aSecondInstanceOfThePipelineIsRefused() throws {
        let inbox = try InboxDatabase()
        let first = PostgresSink(settings: Self.settings(inbox), logger: Logger(label: "test"))
        #expect(try first.lastCheckpoint() == nil)
        let second = PostgresSink(settings: Self.settings(inbox), logger: Logger(label: "test"))
        let error = try #require(throws: SinkError.self) { try second.lastCheckpoint() }
        #expect(error.code == .postgresSinkLocked)
        #expect(error.message.contains("another instance of pipeline orders"))
        // Another pipeline may share the schema.
        let other = PostgresSink(settings: Self.settings(inbox, pipeline: "payments"), logger: Logger(label: "test"))
        #expect(try other.lastCheckpoint() == nil)
    }

    @Test func missingTablesAreNamedWhenTheSinkMayNotCreateThem() throws {
        let inbox = try InboxDatabase()
        var settings = Self.settings(inbox)
        settings.createTables = false
        let sink = PostgresSink(settings: settings, logger: Logger(label: "test"))
        let error = try #require(throws: SinkError.self) { try sink.lastCheckpoint() }
        #expect(error.code == .postgresSinkSchema)
        #expect(error.message.contains("table \"outflow\".\"inbox_events\" does not exist"))
        #expect(error.message.contains("\"outflow\".\"checkpoints\""))
        // What validate --online reports, from the same check.
        let config = PostgresSinkConfig(url: SecretString(value: inbox.url.rawValue, isSecret: true, redacted: "${env:INBOX_URL}"), createTables: false)
        let report = try PostgresSink.checkTarget(config)
        #expect(report.problems.contains("table \"outflow\".\"processed_messages\" does not exist"))
    }
}
