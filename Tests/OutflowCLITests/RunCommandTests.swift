import Foundation
import SegmentLog
import Testing

/// `outflow run` as a user runs it: a pipeline file, a real server, signals.
@Suite struct RunCommandTests {
    /// A pipeline of the shape of pipelines/outbox.yaml on a table, slot and log of its own.
    struct Scenario {
        let suffix = "\(UInt32.random(in: 0...UInt32.max))"
        let directory: URL
        let url: String
        var table: String { "run_outbox_\(suffix)" }
        var logDirectory: String { directory.appendingPathComponent("data/log").path }
        var pipelineFile: URL { directory.appendingPathComponent("pipeline.yaml") }

        init() throws {
            url = try testDatabaseURL()
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-run-\(suffix)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try """
                version: 1
                name: run-test
                source:
                  postgres:
                    url: ${env:OUTFLOW_PG_URL}
                    slot: run_slot_\(suffix)
                    publication: run_pub_\(suffix)
                    tables: [public.\(table)]
                stages:
                  - outbox:
                      table: public.\(table)
                  - dedupe:
                      key: id
                      window: 24h
                sink:
                  log:
                    dir: ./data/log
                    partitions: 3
                    compression: zstd
                guarantee: exactly_once
                """.write(to: pipelineFile, atomically: true, encoding: .utf8)
            try psql("CREATE TABLE \(table) (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL, payload jsonb)")
        }

        func psql(_ sql: String, mustSucceed: Bool = true) throws {
            let psql = try #require(OutflowProcess.which("psql"))
            let result = try OutflowProcess.run(executable: psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            if mustSucceed { #expect(result.status == 0, "\(result.standardError)") }
        }

        func query(_ sql: String) throws -> String {
            let psql = try #require(OutflowProcess.which("psql"))
            let result = try OutflowProcess.run(executable: psql, ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            #expect(result.status == 0, "\(result.standardError)")
            return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func cleanUp() {
            _ = try? psql("SELECT pg_drop_replication_slot('run_slot_\(suffix)')", mustSucceed: false)
            _ = try? psql("DROP PUBLICATION run_pub_\(suffix)", mustSucceed: false)
            try? FileManager.default.removeItem(at: directory)
        }

        /// Starts `outflow run` and waits until it streams.
        func start(extraArguments: [String] = [], standardOutput: URL? = nil, pipelineURL: String? = nil) throws -> (Process, URL) {
            let errorFile = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
            let process = Process()
            process.executableURL = try OutflowProcess.binary()
            process.arguments = ["run", pipelineFile.path, "--progress-interval", "0"] + extraArguments
            process.environment = ProcessInfo.processInfo.environment.merging(["OUTFLOW_PG_URL": pipelineURL ?? url]) { $1 }
            process.currentDirectoryURL = directory
            process.standardError = try FileHandle(forWritingTo: errorFile)
            process.standardOutput = try standardOutput.map { try FileHandle(forWritingTo: $0) } ?? FileHandle.nullDevice
            try process.run()
            let deadline = ContinuousClock.now.advanced(by: .seconds(30))
            while !(try String(contentsOf: errorFile, encoding: .utf8)).contains("resuming after") {
                guard process.isRunning, ContinuousClock.now < deadline else {
                    throw MissingTestPrerequisite(description: "outflow run did not start: \(try String(contentsOf: errorFile, encoding: .utf8))")
                }
                usleep(20_000)  // polling a file for a condition, bounded by the deadline
            }
            return (process, errorFile)
        }

        func committedKeys() throws -> [String] {
            let reader = try LogReader(directory: logDirectory)
            var keys: [String] = []
            for partition in try reader.partitions() where partition.topic == "outbox.event.order" {
                let partitionReader = try reader.open(partition, isolation: .readCommitted)
                while true {
                    let records = try partitionReader.poll(maxRecords: 1000)
                    if records.isEmpty { break }
                    keys += records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }
                }
            }
            return keys
        }
    }

    @Test func sigtermMidStreamLosesNothingAndARestartDuplicatesNothing() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        var expected: [String] = []
        let (first, firstErrors) = try scenario.start()
        // A writer keeps committing while the pipeline is told to stop.
        for batch in 0..<20 {
            let keys = (0..<5).map { "k-\(batch)-\($0)" }
            expected += keys
            try scenario.psql("BEGIN; " + keys.map { "INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', '\($0)', 'Created', '{}');" }.joined() + " COMMIT;")
            if batch == 10 { first.terminate() }
        }
        first.waitUntilExit()
        let firstOutput = try String(contentsOf: firstErrors, encoding: .utf8)
        #expect(first.terminationStatus == 0, "\(firstOutput)")
        #expect(firstOutput.contains("stopped:"))

        let (second, secondErrors) = try scenario.start()
        // Wait until everything written so far is in the log, then stop again.
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while try scenario.committedKeys().count < expected.count, ContinuousClock.now < deadline { usleep(50_000) }
        second.terminate()
        second.waitUntilExit()
        let secondOutput = try String(contentsOf: secondErrors, encoding: .utf8)
        #expect(second.terminationStatus == 0, "\(secondOutput)")
        let keys = try scenario.committedKeys()
        #expect(keys.count == expected.count)
        #expect(Set(keys) == Set(expected))
    }

    @Test func startLSNSkipsAheadWithAWarning() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        let created = try OutflowProcess.run([
            "slots", "create", "run_slot_\(scenario.suffix)", "--url", scenario.url,
            "--publication", "run_pub_\(scenario.suffix)", "--table", "public.\(scenario.table)",
        ])
        #expect(created.status == 0, "\(created.standardError)")
        func insert(_ key: String) throws {
            try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', '\(key)', 'Created', '{}')")
        }
        try insert("before-1")
        try insert("before-2")
        let psql = try #require(OutflowProcess.which("psql"))
        let position = try OutflowProcess.run(executable: psql, ["-X", "-At", scenario.url, "-c", "SELECT pg_current_wal_lsn()"])
            .standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        try insert("after-1")

        let (process, errors) = try scenario.start(extraArguments: ["--start-lsn", position])
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while try scenario.committedKeys().isEmpty, ContinuousClock.now < deadline { usleep(50_000) }
        process.terminate()
        process.waitUntilExit()
        let output = try String(contentsOf: errors, encoding: .utf8)
        #expect(output.contains("warning: --start-lsn \(position)"))
        #expect(try scenario.committedKeys() == ["after-1"])
    }

    @Test func aDryRunPrintsRecordsAndAcknowledgesNothing() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        let created = try OutflowProcess.run([
            "slots", "create", "run_slot_\(scenario.suffix)", "--url", scenario.url,
            "--publication", "run_pub_\(scenario.suffix)", "--table", "public.\(scenario.table)",
        ])
        #expect(created.status == 0)
        let psql = try #require(OutflowProcess.which("psql"))
        func confirmed() throws -> String {
            try OutflowProcess.run(executable: psql, ["-X", "-At", scenario.url, "-c",
                "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'run_slot_\(scenario.suffix)'"]).standardOutput
        }
        let before = try confirmed()
        try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'dry-1', 'Created', '{\"x\": 1}')")

        let outputFile = scenario.directory.appendingPathComponent("dry.out")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let (process, _) = try scenario.start(extraArguments: ["--dry-run"], standardOutput: outputFile)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while !(try String(contentsOf: outputFile, encoding: .utf8)).contains("dry-1"), ContinuousClock.now < deadline { usleep(50_000) }
        process.terminate()
        process.waitUntilExit()
        let line = try #require(try String(contentsOf: outputFile, encoding: .utf8).split(separator: "\n").first)
        let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(record["topic"] as? String == "outbox.event.order" && record["key"] as? String == "dry-1")
        #expect(try confirmed() == before)  // nothing acknowledged
        #expect(!FileManager.default.fileExists(atPath: scenario.logDirectory))  // nothing written
    }

    @Test func validateOnlineChecksTheServer() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        let ready = try OutflowProcess.run(["validate", "--online", scenario.pipelineFile.path], environment: ["OUTFLOW_PG_URL": scenario.url])
        #expect(ready.status == 0, "\(ready.standardError)")
        #expect(ready.standardError.contains("online: wal_level: logical"))
        #expect(ready.standardError.contains("slot run_slot_\(scenario.suffix): missing (will be created)"))

        try scenario.psql("DROP TABLE \(scenario.table)")
        let missing = try OutflowProcess.run(["validate", "--online", scenario.pipelineFile.path], environment: ["OUTFLOW_PG_URL": scenario.url])
        #expect(missing.status == 1)
        #expect(missing.standardError.contains("table public.\(scenario.table) does not exist"))
        #expect(!missing.standardError.contains(":outflow@"))  // the URL's password is never printed
    }

    /// `--until-lsn`: stops by itself, exit 0, once the position is durable and acknowledged,
    /// even when the position is past the last transaction (only a keepalive reaches it).
    @Test func untilLSNStopsOnceThePositionIsDurableAndConfirmed() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        let (first, firstErrors) = try scenario.start()  // creates the slot
        first.terminate()
        first.waitUntilExit()
        let firstOutput = try String(contentsOf: firstErrors, encoding: .utf8)
        #expect(first.terminationStatus == 0, "\(firstOutput)")
        let keys = (0..<30).map { "u-\($0)" }
        for key in keys {
            try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', '\(key)', 'Created', '{}')")
        }
        let end = try scenario.query("SELECT pg_current_wal_lsn()")
        let (second, secondErrors) = try scenario.start(extraArguments: ["--until-lsn", end])
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while second.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        let output = try String(contentsOf: secondErrors, encoding: .utf8)
        #expect(!second.isRunning, "outflow run --until-lsn \(end) did not stop: \(output)")
        if second.isRunning { second.terminate() }
        second.waitUntilExit()
        #expect(second.terminationStatus == 0, "\(output)")
        let committed = try scenario.committedKeys()
        #expect(committed.sorted() == keys.sorted())
        let confirmed = try scenario.query("SELECT confirmed_flush_lsn >= '\(end)'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'run_slot_\(scenario.suffix)'")
        #expect(confirmed == "t")
    }

    @Test func untilLSNMustBeAPosition() throws {
        let result = try OutflowProcess.run(["run", "pipeline.yaml", "--until-lsn", "nope"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("--until-lsn"))
    }

    @Test func anInvalidPipelineFileExits78() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-run-invalid-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.yaml")
        try "version: 1\nname: x\nsorce: {}\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try OutflowProcess.run(["run", file.path])
        #expect(result.status == 78)
        #expect(result.standardError.contains("bad.yaml:3:1"))
    }
}
