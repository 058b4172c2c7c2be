import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `outflow validate --online` and `outflow run` with `sink.postgres`, against an inbox database
/// of the test's own on the sandbox server.
@Suite struct PostgresSinkCommandTests {
    static func writePipeline(_ scenario: RunCommandTests.Scenario, createTables: Bool) throws {
        try """
            version: 1
            name: run-test
            source:
              postgres:
                url: ${env:OUTFLOW_PG_URL}
                slot: run_slot_\(scenario.suffix)
                publication: run_pub_\(scenario.suffix)
                tables: [public.\(scenario.table)]
            stages:
              - outbox:
                  table: public.\(scenario.table)
              - dedupe:
                  key: id
                  window: 24h
            sink:
              postgres:
                url: ${env:OUTFLOW_INBOX_URL}
                schema: inbox
                upsert: latest
                create_tables: \(createTables)
            guarantee: exactly_once
            """.write(to: scenario.pipelineFile, atomically: true, encoding: .utf8)
    }

    @Test func validateOnlineNamesWhatTheTargetLacks() throws {
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        let inbox = try PostgresSinkCrashTests.Inbox()
        defer { inbox.drop() }
        let environment = ["OUTFLOW_PG_URL": scenario.url, "OUTFLOW_INBOX_URL": inbox.url]
        try Self.writePipeline(scenario, createTables: false)
        let missing = try OutflowProcess.run(["validate", "--online", scenario.pipelineFile.path], environment: environment)
        #expect(missing.status == 1, "\(missing.standardError)")
        #expect(missing.standardError.contains("sink.postgres: table \"inbox\".\"inbox_events\" does not exist"), "\(missing.standardError)")
        #expect(missing.standardError.contains("table \"inbox\".\"latest\" does not exist"))
        #expect(!missing.standardError.contains(":outflow@"))  // the URL's password is never printed

        try Self.writePipeline(scenario, createTables: true)
        let creates = try OutflowProcess.run(["validate", "--online", scenario.pipelineFile.path], environment: environment)
        #expect(creates.status == 0, "\(creates.standardError)")
        #expect(creates.standardError.contains("run creates what is missing"))
    }

    /// A stateful stage under this sink keeps its files in ./.outflow-state/<pipeline>, named by
    /// the checkpoint in the target: a clean stop and a restart write every event once.
    @Test func runStopAndRestartWriteEveryEventOnce() throws {
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        let inbox = try PostgresSinkCrashTests.Inbox()
        defer { inbox.drop() }
        try Self.writePipeline(scenario, createTables: true)
        let environment = ["OUTFLOW_PG_URL": scenario.url, "OUTFLOW_INBOX_URL": inbox.url]

        func runUntil(_ rows: Int, inserting keys: [String]) throws {
            let process = Process()
            process.executableURL = try OutflowProcess.binary()
            process.arguments = ["run", scenario.pipelineFile.path, "--progress-interval", "0"]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.currentDirectoryURL = scenario.directory
            let errors = scenario.directory.appendingPathComponent("stderr-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errors)
            process.standardOutput = FileHandle.nullDevice
            let output = { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }
            try process.run()
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
            let deadline = ContinuousClock.now.advanced(by: .seconds(30))
            while !output().contains("resuming after") {
                try #require(process.isRunning && ContinuousClock.now < deadline, "outflow run did not start: \(output())")
                usleep(20_000)  // polling a file for a condition, bounded by the deadline
            }
            for key in keys {
                try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', '\(key)', 'Created', '{\"k\": \"\(key)\"}')")
            }
            while (Int(try inbox.value("SELECT count(*) FROM inbox.inbox_events") ?? "") ?? 0) < rows {
                try #require(process.isRunning && ContinuousClock.now < deadline, "the inbox did not fill: \(output())")
                usleep(20_000)  // polling the inbox for a condition, bounded by the deadline
            }
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(output())")
        }
        try runUntil(3, inserting: ["a", "b", "a"])
        try runUntil(5, inserting: ["c", "b"])
        let ids = try scenario.query("SELECT string_agg(id::text, ',' ORDER BY id::text) FROM \(scenario.table)")
        #expect(try inbox.value("SELECT string_agg(event_id, ',' ORDER BY event_id) FROM inbox.inbox_events") == ids)
        #expect(try inbox.value("SELECT string_agg(convert_from(key, 'UTF8'), ',' ORDER BY key) FROM inbox.latest") == "a,b,c")
        #expect(FileManager.default.fileExists(atPath: scenario.directory.appendingPathComponent(".outflow-state/run-test").path))
        #expect(try inbox.value("SELECT count(*) > 0 FROM inbox.checkpoint_history WHERE pipeline = 'run-test'") == "t")
    }
}
