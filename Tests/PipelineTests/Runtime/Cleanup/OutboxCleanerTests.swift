import Foundation
import Logging
import MetricsTestKit
import PGOutput
import Pipeline
import PostgresSource
import Testing

/// The cleaner against a real server: an outbox table with a `created_at` column and its index,
/// a logical slot whose confirmed position the test moves (`pg_replication_slot_advance`), and
/// the sink's durable position set by the test — so "durable" is exactly what the test says.
final class CleanupFixture {
    let url: ConnectionString
    let sql: PostgresConnection
    let suffix = "\(UInt32.random(in: 0...UInt32.max))"
    let stateDirectory: String
    let durable = SinkDurablePosition()
    let metrics = TestMetrics()
    var table: String { "cleanup_outbox_\(suffix)" }
    var slot: String { "cleanup_slot_\(suffix)" }

    init(partitioned: Bool = false) throws {
        guard let text = ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_URL"], !text.isEmpty else { throw MissingTestDatabase() }
        url = try ConnectionString(text)
        sql = try PostgresConnection(url)
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-cleanup-\(suffix)").path
        let columns = "id text NOT NULL, aggregatetype text NOT NULL DEFAULT 'order', aggregateid text NOT NULL DEFAULT 'k', type text NOT NULL DEFAULT 'Created', payload jsonb DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now()"
        if partitioned {
            try sql.execute("CREATE TABLE \(table) (\(columns)) PARTITION BY RANGE (created_at)")
        } else {
            try sql.execute("CREATE TABLE \(table) (\(columns))")
        }
        try sql.execute("CREATE INDEX ON \(table) (created_at)")
        try sql.execute("SELECT pg_create_logical_replication_slot('\(slot)', 'pgoutput')")
    }

    deinit {
        _ = try? sql.execute("SELECT pg_drop_replication_slot('\(slot)')")
        _ = try? sql.execute("DROP TABLE IF EXISTS \(table)")
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    func cleaner(retention: String = "0s", batchSize: Int = 1000) -> OutboxCleaner {
        let config = OutboxStageConfig.Cleanup(retention: ConfigDuration(retention)!, interval: ConfigDuration("0s")!, batchSize: batchSize)
        let settings = OutboxCleanupSettings(config, table: TableName(schema: "public", name: table), slot: slot, stateDirectory: stateDirectory)
        return OutboxCleaner(settings: settings, connectionString: url, durable: durable, logger: Logger(label: "test"), factory: metrics)
    }

    func insert(_ ids: [String], on connection: PostgresConnection? = nil) throws {
        try (connection ?? sql).execute("INSERT INTO \(table) (id) VALUES " + ids.map { "('\($0)')" }.joined(separator: ", "))
    }

    func rows() throws -> Set<String> {
        Set(try sql.execute("SELECT id FROM \(table)").rows.compactMap { $0[0] })
    }

    /// The server's insert position once it is flushed: everything committed so far (a
    /// watermark's position among it) is before it, and a slot cannot be advanced past the flush
    /// position. A commit that wrote nothing but its commit record is not flushed at once (no
    /// synchronous commit), so the flush position alone may still be behind a watermark.
    func flushedPosition() throws -> LSN {
        let lsn = try #require(try sql.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn").value("lsn").flatMap { LSN($0) })
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let flushed = try #require(try sql.execute("SELECT pg_current_wal_flush_lsn()::text AS lsn").value("lsn").flatMap { LSN($0) })
            if flushed >= lsn { return lsn }
            try #require(ContinuousClock.now < deadline, "the server did not flush its WAL to \(lsn) within 20 s")
            usleep(10_000)  // polling for the WAL writer, bounded by the deadline
        }
    }

    /// Everything committed so far becomes durable: in the sink (as the pipeline would report)
    /// and confirmed to the server (the slot).
    func makeEverythingDurable() throws {
        let lsn = try flushedPosition()
        try sql.execute("SELECT pg_replication_slot_advance('\(slot)', '\(lsn)')")
        durable.advance(to: lsn)
    }

    var state: OutboxCleanupState? {
        OutboxCleanupState.read(OutboxCleanupState.path(stateDirectory: stateDirectory, table: TableName(schema: "public", name: table)))
    }
}

@Suite(.serialized) struct OutboxCleanerTests {
    @Test func rowsAreDeletedOnceDurableAndRowsAfterTheWatermarkStay() throws {
        let fixture = try CleanupFixture()
        let cleaner = fixture.cleaner(batchSize: 2)
        try fixture.insert(["a", "b", "c", "d", "e"])
        var report = cleaner.runOnce()
        #expect(report.tookWatermark && report.rowsDeleted == 0, "nothing is durable yet: \(report)")
        try fixture.insert(["late-1", "late-2"])  // after the watermark
        try fixture.makeEverythingDurable()
        report = cleaner.runOnce()
        #expect(report.rowsDeleted == 5, "\(report)")
        #expect(try fixture.rows() == ["late-1", "late-2"])
        // The next watermark (taken in that run) sees the late rows: they go next.
        try fixture.makeEverythingDurable()
        report = cleaner.runOnce()
        #expect(report.rowsDeleted == 2, "\(report)")
        #expect(try fixture.rows().isEmpty)
        let state = try #require(fixture.state)
        #expect(state.rowsDeleted == 7)
        #expect(state.lastError == nil)
        #expect(try fixture.metrics.expectCounter("outflow_outbox_cleanup_rows_deleted_total", [("table", "public.\(fixture.table)")]).totalValue == 7)
    }

    @Test func nothingIsDeletedWhileItIsNotDurable() throws {
        let fixture = try CleanupFixture()
        let cleaner = fixture.cleaner()
        try fixture.insert(["a", "b"])
        cleaner.runOnce()
        // Durable in the sink, not confirmed to the server: not enough.
        let lsn = try #require(try fixture.sql.execute("SELECT pg_current_wal_lsn()::text AS lsn").value("lsn").flatMap { LSN($0) })
        fixture.durable.advance(to: lsn)
        for _ in 0..<3 { #expect(cleaner.runOnce().rowsDeleted == 0) }
        #expect(try fixture.rows() == ["a", "b"])
        // Confirmed to the server but not durable in the sink (a second fixture's position is
        // behind): not enough either.
        let behindDurable = SinkDurablePosition()
        behindDurable.advance(to: LSN(1))
        let behind = OutboxCleaner(
            settings: cleaner.settings, connectionString: fixture.url, durable: behindDurable, logger: Logger(label: "test"), factory: TestMetrics())
        let flushed = try fixture.flushedPosition()
        try fixture.sql.execute("SELECT pg_replication_slot_advance('\(fixture.slot)', '\(flushed)')")
        for _ in 0..<3 { #expect(behind.runOnce().rowsDeleted == 0) }
        #expect(try fixture.rows() == ["a", "b"])
        // Both: deleted.
        #expect(cleaner.runOnce().rowsDeleted == 2)
    }

    @Test func aRowOfATransactionOpenAtTheWatermarkIsNotDeletedWithIt() throws {
        let fixture = try CleanupFixture()
        let cleaner = fixture.cleaner()
        let writer = try PostgresConnection(fixture.url)
        try fixture.insert(["before"])
        try writer.execute("BEGIN")
        try fixture.insert(["open"], on: writer)  // created_at is the transaction's start: before the watermark
        // A row written after a SAVEPOINT has its subtransaction's id as xmin, which the
        // snapshot does not list among the running ones.
        try writer.execute("SAVEPOINT s")
        try fixture.insert(["open-after-savepoint"], on: writer)
        // A later transaction completes, so the snapshot's xmax passes the open ones' ids.
        try fixture.sql.execute("SELECT txid_current()")
        cleaner.runOnce()  // the watermark: "open" is in progress
        try writer.execute("COMMIT")
        try fixture.makeEverythingDurable()
        let report = cleaner.runOnce()
        #expect(report.rowsDeleted == 1, "\(report)")
        #expect(try fixture.rows() == ["open", "open-after-savepoint"], "committed after the watermark: kept for a later one")
        try fixture.makeEverythingDurable()
        #expect(cleaner.runOnce().rowsDeleted == 2)
        #expect(try fixture.rows().isEmpty)
    }

    @Test func theRetentionIsRespected() throws {
        let fixture = try CleanupFixture()
        let cleaner = fixture.cleaner(retention: "2s")
        try fixture.insert(["a"])
        let committed = try #require(try fixture.sql.execute("SELECT extract(epoch FROM clock_timestamp())::float8 AS t").value("t").flatMap(Double.init))
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        var deletedAt: Double?
        while deletedAt == nil, ContinuousClock.now < deadline {
            try fixture.makeEverythingDurable()
            if cleaner.runOnce().rowsDeleted > 0 {
                deletedAt = try fixture.sql.execute("SELECT extract(epoch FROM clock_timestamp())::float8 AS t").value("t").flatMap(Double.init)
            } else {
                #expect(try fixture.rows() == ["a"])
            }
            usleep(100_000)  // the cleaner's interval: polling for a condition bounded by the deadline
        }
        let deleted = try #require(deletedAt, "never deleted within 20 s")
        #expect(deleted - committed >= 2, "deleted \(deleted - committed) s after its commit")
        #expect(try fixture.rows().isEmpty)
    }

    @Test func theWatermarksSurviveARestart() throws {
        let fixture = try CleanupFixture()
        try fixture.insert(["a"])
        fixture.cleaner().runOnce()
        #expect(fixture.state?.watermarks.count == 1)
        try fixture.makeEverythingDurable()
        // A new cleaner (a restarted pipeline) uses the persisted watermark at once.
        #expect(fixture.cleaner().runOnce().rowsDeleted == 1)
    }

    @Test func aMissingDeletePrivilegeIsAClearErrorNamingTheGrant() throws {
        let fixture = try CleanupFixture()
        try fixture.sql.execute("REVOKE DELETE ON \(fixture.table) FROM CURRENT_USER")
        var warnings: [String] = []
        let error = #expect(throws: PipelineError.self) {
            try OutboxCleaner.preflight(fixture.cleaner().settings, connectionString: fixture.url) { warnings.append($0) }
        }
        #expect(error?.code == .sourceNotReady)
        #expect(error?.message.contains("GRANT DELETE ON \"public\".\"\(fixture.table)\" TO") == true, "\(String(describing: error))")
        try fixture.sql.execute("GRANT DELETE ON \(fixture.table) TO CURRENT_USER")
        try OutboxCleaner.preflight(fixture.cleaner().settings, connectionString: fixture.url) { warnings.append($0) }
        #expect(warnings.isEmpty, "the column is indexed: \(warnings)")
        try fixture.sql.execute("DROP INDEX \(fixture.table)_created_at_idx")
        try OutboxCleaner.preflight(fixture.cleaner().settings, connectionString: fixture.url) { warnings.append($0) }
        #expect(warnings.count == 1 && warnings[0].contains("CREATE INDEX ON \"public\".\"\(fixture.table)\" (\"created_at\")"), "\(warnings)")
    }

    @Test func oldPartitionsAreDroppedAndRecentOnesKept() throws {
        let fixture = try CleanupFixture(partitioned: true)
        let table = fixture.table
        for day in 1...3 {
            try fixture.sql.execute("CREATE TABLE \(table)_d\(day) PARTITION OF \(table) FOR VALUES FROM ('2020-01-0\(day)') TO ('2020-01-0\(day + 1)')")
            try fixture.sql.execute("INSERT INTO \(table) (id, created_at) VALUES ('old-\(day)', '2020-01-0\(day) 12:00')")
        }
        try fixture.sql.execute("CREATE TABLE \(table)_now PARTITION OF \(table) FOR VALUES FROM ('2020-01-04') TO (MAXVALUE)")
        let cleaner = fixture.cleaner()
        cleaner.runOnce()
        try fixture.insert(["recent"])  // after the watermark
        try fixture.makeEverythingDurable()
        let report = cleaner.runOnce()
        #expect(report.partitionsDropped == 3, "\(report)")
        let partitions = try fixture.sql.execute("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = '\(table)'::regclass").value("n")
        #expect(partitions == "1")
        #expect(try fixture.rows() == ["recent"])
        #expect(fixture.state?.partitionsDropped == 3)
    }
}
