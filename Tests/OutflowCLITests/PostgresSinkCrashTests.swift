import FaultInjection
import Foundation
import PostgresSource
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The crash test of `sink.postgres`: the real `outflow run` writing an outbox into a second
/// database of the sandbox server (the inbox), under the crash tests' write load (some
/// transactions rolled back), killed again and again — SIGKILL at random moments and aborts at
/// named crash points, among them the sink's own (before the target's COMMIT, after it before the
/// acknowledgement) — and restarted. Then, by SQL against the inbox and the outbox: every
/// committed event exactly once, nothing rolled back, per-key order by source position.
///
/// `OUTFLOW_PGSINK_CRASH_CYCLES` sets the cycles per mode (default 16).
@Suite struct PostgresSinkCrashTests {
    static let cycles = Int(ProcessInfo.processInfo.environment["OUTFLOW_PGSINK_CRASH_CYCLES"] ?? "") ?? 16

    /// Points each mode passes through with this sink.
    static func crashPoints(_ mode: String) -> [String] {
        switch mode {
        case "exactly_once":
            ["sink.postgres.before-commit", "sink.postgres.after-commit", "runner.before-commit", "runner.after-mark-durable", "source.status.after-send"]
        default:
            ["runner.before-commit", "runner.after-commit", "runner.after-mark-durable", "source.status.before-send"]
        }
    }

    @Test(arguments: ["exactly_once", "at_least_once"])
    func killedAndRestartedUnderLoadTheInboxHoldsEveryCommittedEventOnce(mode: String) throws {
        let started = ContinuousClock.now
        let scenario = try CrashScenario(mode: mode)
        defer { scenario.cleanUp() }
        let inbox = try Inbox()
        defer { inbox.drop() }
        try """
            version: 1
            name: crash-test
            source:
              postgres:
                url: ${env:OUTFLOW_PG_URL}
                slot: \(scenario.slot)
                publication: crash_pub_\(scenario.suffix)
                tables: [public.\(scenario.table)]
                status_interval: 1s
            stages:
              - outbox:
                  table: public.\(scenario.table)
            sink:
              postgres:
                url: ${env:OUTFLOW_INBOX_URL}
                schema: inbox
            guarantee: \(mode)
            """.write(to: scenario.pipelineFile, atomically: true, encoding: .utf8)
        let environment = ["OUTFLOW_INBOX_URL": inbox.url]
        let load = try WriteLoad(url: scenario.url, table: scenario.table, keys: CrashTests.keys)
        load.start()
        let points = Self.crashPoints(mode)
        var reached: [String: Int] = [:]
        var kills = 0, crashes = 0, notReached = 0
        var generator = SystemRandomNumberGenerator()
        for cycle in 0..<Self.cycles {
            var runEnvironment = environment
            let injected = cycle % 2 == 1
            let point = points[(cycle / 2) % points.count]
            if injected { runEnvironment["OUTFLOW_CRASH_AT"] = "\(point):\(Int.random(in: 1...3, using: &generator))" }
            let run = try scenario.start(environment: runEnvironment)
            if injected {
                if try run.waitForExit(seconds: 10) {
                    let output = try run.output()
                    #expect(run.process.terminationReason == .uncaughtSignal && run.process.terminationStatus == SIGABRT, "\(output)")
                    #expect(output.contains("crash point"), "\(output)")
                    reached[point, default: 0] += 1
                    crashes += 1
                } else {
                    notReached += 1
                    run.kill()
                }
            } else {
                usleep(UInt32.random(in: 50_000...700_000, using: &generator))  // the kill time itself is what is randomised
                let output = try run.output()
                #expect(run.process.isRunning, "outflow exited before the kill: \(output)")
                run.kill()
                kills += 1
            }
            try #require(load.failure == nil, "the write load failed: \(load.failure ?? "")")
        }
        load.stop()
        try #require(load.failure == nil && load.committed > 0, "the write load: \(load.failure ?? "committed nothing")")

        // A clean run drains the slot until a sentinel committed after the load is in the inbox.
        try scenario.waitForInactiveSlot()
        let final = try scenario.start(environment: environment)
        let sentinel = UUID().uuidString.lowercased()
        try scenario.sql("INSERT INTO \(scenario.table) VALUES ('\(sentinel)', 'order', 'sentinel', 'Created', '{\"seq\": 0}')")
        var lastCount = -1
        var lastProgress = ContinuousClock.now
        while try inbox.value("SELECT count(*) FROM inbox.inbox_events WHERE event_id = '\(sentinel)'") != "1" {
            let count = Int(try inbox.value("SELECT count(*) FROM inbox.inbox_events") ?? "0") ?? 0
            if count != lastCount { lastCount = count; lastProgress = .now }
            guard final.process.isRunning, ContinuousClock.now - lastProgress < .seconds(60) else {
                Issue.record("the final run did not catch up: \(try final.output())")
                final.kill()
                return
            }
            usleep(50_000)  // polling the inbox for a condition, bounded by the no-progress deadline
        }
        final.process.terminate()
        #expect(try final.waitForExit(seconds: 30), "outflow did not stop on SIGTERM")
        let finalOutput = try final.output()
        #expect(final.process.terminationStatus == 0, "\(finalOutput)")

        // The contract, by SQL: the outbox's committed rows against the inbox.
        let committed = try scenario.committedRows()
        let rows = try inbox.rows("""
            SELECT event_id, convert_from(key, 'UTF8'), (convert_from(value, 'UTF8')::jsonb ->> 'seq')::int
            FROM inbox.inbox_events ORDER BY source_lsn, source_ordinal
            """)
        var seen: [String: Int] = [:]
        var lastSequence: [String: Int] = [:]
        var abortedVisible = 0, orderViolations = 0
        for row in rows {
            let id = row[0] ?? "", key = row[1] ?? "", sequence = Int(row[2] ?? "") ?? -1
            seen[id, default: 0] += 1
            guard committed[id] != nil else {
                abortedVisible += 1
                continue
            }
            if let previous = lastSequence[key], sequence <= previous { orderViolations += 1 }
            lastSequence[key] = sequence
        }
        let lost = committed.keys.filter { seen[$0] == nil }.count
        let duplicated = seen.values.filter { $0 > 1 }.count
        let processed = Int(try inbox.value("SELECT count(*) FROM inbox.processed_messages WHERE pipeline = 'crash-test'") ?? "") ?? -1
        let checkpoint = try inbox.value("SELECT source_end IS NOT NULL OR recorded_position IS NOT NULL FROM inbox.checkpoints WHERE pipeline = 'crash-test'")
        print("pgsink-crash-test | \(mode) | \(Self.cycles) cycles (\(kills) SIGKILL, \(crashes) crash points, \(notReached) not reached) | "
            + "\(committed.count) committed events | \(rows.count) inbox rows | lost \(lost) | duplicated \(duplicated) | aborted visible \(abortedVisible) | "
            + "order violations \(orderViolations) | \(Int((ContinuousClock.now - started).components.seconds)) s")
        print("pgsink-crash-points | \(mode) | " + points.map { "\($0) \(reached[$0] ?? 0)" }.joined(separator: ", "))
        #expect(seen[sentinel] == 1)
        #expect(lost == 0, "committed events missing from the inbox")
        #expect(duplicated == 0, "an event twice in the inbox")
        #expect(abortedVisible == 0, "events of rolled-back transactions in the inbox")
        #expect(orderViolations == 0, "per-key order by source position differs from commit order")
        #expect(processed == rows.count, "the processed ids and the inbox disagree")
        #expect(checkpoint == "t")
        #expect(crashes > 0, "no injected crash point fired")
    }

    /// The inbox: a database of the test's own on the sandbox server, owned by the pipeline's role.
    struct Inbox {
        let name = "inbox_crash_\(UInt32.random(in: 0...UInt32.max))"
        let admin: String
        let url: String

        init() throws {
            guard let admin = ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_ADMIN_URL"], !admin.isEmpty else {
                throw MissingTestPrerequisite(description: "OUTFLOW_TEST_PG_ADMIN_URL is not set: run under make test")
            }
            self.admin = admin
            var components = try #require(URLComponents(string: try testDatabaseURL()))
            components.path = "/\(name)"
            url = try #require(components.string)
            try PostgresConnection(try ConnectionString(admin)).execute("CREATE DATABASE \(name) OWNER outflow")
        }

        func drop() { _ = try? PostgresConnection(try ConnectionString(admin)).execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }

        func rows(_ query: String) throws -> [[String?]] { try PostgresConnection(try ConnectionString(url)).execute(query).rows }
        func value(_ query: String) throws -> String? {
            do { return try rows(query).first?.first ?? nil } catch let error as PostgresError where error.sqlState == "42P01" {
                return nil  // the sink has not created its tables yet
            }
        }
    }
}
