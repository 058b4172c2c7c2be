import Foundation
import PGOutput
import PostgresSource
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Outbox cleanup under the crash campaign: the real `outflow run` (exactly_once) with
/// `cleanup:` on, under the outbox write load, killed (SIGKILL at random moments, and aborts at
/// the cleaner's and the pipeline's commit crash points) and restarted again and again.
///
/// The oracle sees *when* each row was deleted: an `AFTER DELETE` trigger this test installs
/// writes the row's id, the server's clock and the slot's `confirmed_flush_lsn` at that moment
/// into an audit table the publication does not publish. Then: every deleted row's event is in
/// the log with a commit LSN at or before the slot's confirmed position at its delete (durable
/// before it was deleted: exactly_once acknowledges only after the commit), deleted at least the
/// retention after its commit; nothing is lost or duplicated (the campaign's checks, with the
/// deleted rows counted as committed); and a last clean run deletes every row left.
@Suite struct OutboxCleanupCrashTests {
    static let cycles = max(8, CrashTests.cycles * 3 / 4)

    /// The cleaner's points, and the pipeline's commit (kill -9 during the pipeline's commit).
    static let crashPoints = [
        "cleanup.batch.before-commit", "cleanup.batch.after-commit", "cleanup.state.after-temp-write",
        "log.commit.after-record-fsync", "runner.after-commit",
    ]

    @Test(arguments: [0, 2])
    func killedWhileCleaningDeletesOnlyDurableRowsPastTheRetention(retentionSeconds: Int) throws {
        let started = ContinuousClock.now
        let scenario = try CrashScenario(mode: "exactly_once", cleanupRetention: "\(retentionSeconds)s")
        defer { scenario.cleanUp() }
        let load = try WriteLoad(url: scenario.url, table: scenario.table, keys: CrashTests.keys)
        load.start()
        var outcome = CrashTests.Outcome(mode: "exactly_once, outbox cleanup \(retentionSeconds)s")
        var generator = SystemRandomNumberGenerator()
        for cycle in 0..<Self.cycles {
            let injected = cycle % 2 == 1
            let point = Self.crashPoints[(cycle / 2) % Self.crashPoints.count]
            let environment = injected ? ["OUTFLOW_CRASH_AT": "\(point):\(Int.random(in: 1...2, using: &generator))"] : [:]
            let run = try scenario.start(environment: environment)
            if injected {
                if try run.waitForExit(seconds: 10) {
                    let output = try run.output()
                    #expect(run.process.terminationReason == .uncaughtSignal && run.process.terminationStatus == SIGABRT, "\(output)")
                    #expect(output.contains("crash point"), "\(output)")
                    outcome.injectedCrashes += 1
                    outcome.reached[point, default: 0] += 1
                } else {
                    outcome.crashPointsNotReached += 1
                    run.kill()
                }
            } else {
                // A random moment, long enough for some runs of the cleaner (every 200 ms).
                usleep(UInt32.random(in: 100_000...1_200_000, using: &generator))
                let output = try run.output()
                #expect(run.process.isRunning, "outflow exited before the kill: \(output)")
                run.kill()
                outcome.sigkills += 1
            }
            outcome.cycles += 1
            try scenario.waitForInactiveSlot()
            try #require(load.failure == nil, "the write load failed: \(load.failure ?? "")")
        }
        let deletedDuringTheCampaign = try scenario.deletedRows().count
        try CrashTests.drainAndCheck(scenario, load: load, outcome: &outcome, running: nil, started: started)
        print("crash-points | outbox cleanup \(retentionSeconds)s | " + Self.crashPoints.map { "\($0) \(outcome.reached[$0] ?? 0)" }.joined(separator: ", "))

        // A last clean run: with nothing new written, every row left becomes durable and old
        // enough, and is deleted.
        try scenario.waitForInactiveSlot()
        let final = try scenario.start(environment: [:])
        let deadline = ContinuousClock.now.advanced(by: .seconds(30 + retentionSeconds))
        var left = try scenario.rowsLeft()
        while left > 0, ContinuousClock.now < deadline {
            usleep(100_000)  // polling the table for a condition, bounded by the deadline
            left = try scenario.rowsLeft()
        }
        final.process.terminate()
        #expect(try final.waitForExit(seconds: 30), "outflow did not stop on SIGTERM")
        let finalOutput = try final.output()
        #expect(left == 0, "rows left in the outbox 30 s after the last write, all durable: \(left); \(finalOutput)")

        // Every delete, against the log: durable (confirmed to the server) before it, and at
        // least the retention after its commit.
        let deleted = try scenario.deletedRows()
        #expect(deletedDuringTheCampaign > 0, "the cleaner deleted nothing while being killed")
        var inLog: [String: (lsn: LSN, commitMs: Int64)] = [:]
        for record in try LogTailReader(directory: scenario.logDirectory).newRecords() {
            guard let id = record.record.header("id").map({ String(decoding: $0, as: UTF8.self) }),
                  let lsn = record.record.header("outflow.lsn").flatMap({ LSN(String(decoding: $0, as: UTF8.self)) }) else { continue }
            inLog[id] = (lsn, record.record.timestamp)
        }
        var notInLog = 0, beforeDurable = 0, beforeRetention = 0
        for row in deleted {
            guard let event = inLog[row.id] else {
                notInLog += 1
                continue
            }
            if row.confirmed.map({ event.lsn > $0 }) ?? true { beforeDurable += 1 }
            if row.deletedAtMs - event.commitMs < Int64(retentionSeconds) * 1000 { beforeRetention += 1 }
        }
        print("crash-cleanup | retention \(retentionSeconds)s | \(outcome.cycles) cycles | \(deleted.count) rows deleted (\(deletedDuringTheCampaign) while killed) | "
            + "\(notInLog) not in the log | \(beforeDurable) before durable | \(beforeRetention) before the retention")
        #expect(notInLog == 0, "rows deleted whose event is not in the log")
        #expect(beforeDurable == 0, "rows deleted before their transaction was confirmed durable")
        #expect(beforeRetention == 0, "rows deleted before the retention passed")
    }
}

extension CrashScenario {
    var auditTable: String { "crash_audit_\(suffix)" }

    /// The cleanup oracle: an audit table (not in the publication) and a trigger filling it on
    /// every delete from the outbox, with the server's clock and the slot's confirmed position.
    func installDeleteAudit() throws {
        try sql("ALTER TABLE \(table) ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()")
        try sql("CREATE INDEX ON \(table) (created_at)")
        try sql("CREATE TABLE \(auditTable) (id text, aggregateid text, deleted_at timestamptz, confirmed pg_lsn)")
        try sql("""
            CREATE FUNCTION \(auditTable)_fn() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO \(auditTable) SELECT OLD.id::text, OLD.aggregateid, clock_timestamp(),
                (SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '\(slot)');
              RETURN OLD;
            END $$
            """)
        try sql("CREATE TRIGGER \(auditTable)_trigger AFTER DELETE ON \(table) FOR EACH ROW EXECUTE FUNCTION \(auditTable)_fn()")
    }

    struct DeletedRow {
        var id: String
        var deletedAtMs: Int64
        var confirmed: LSN?
    }

    func deletedRows() throws -> [DeletedRow] {
        let connection = try PostgresConnection(try ConnectionString(url))
        let result = try connection.execute(
            "SELECT id, (extract(epoch FROM deleted_at) * 1000)::bigint AS ms, confirmed::text AS confirmed FROM \(auditTable)")
        return result.rows.map { DeletedRow(id: $0[0] ?? "", deletedAtMs: Int64($0[1] ?? "") ?? 0, confirmed: $0[2].flatMap { LSN($0) }) }
    }

    func rowsLeft() throws -> Int {
        let connection = try PostgresConnection(try ConnectionString(url))
        return Int(try connection.execute("SELECT count(*) AS n FROM \(table)").value("n") ?? "") ?? -1
    }
}
