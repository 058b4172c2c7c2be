import Foundation
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Snapshots against the real server and binary: an initial snapshot under concurrent writes,
/// one killed (SIGKILL) half-way and restarted, and a backfill asked of a running pipeline.
/// The log is read by kafka-python (Tests/Oracle/final_state.py), independently of Outflow.
@Suite(.serialized) struct SnapshotCommandTests {
    struct Scenario {
        let suffix = "\(UInt32.random(in: 0...UInt32.max))"
        let directory: URL
        let url: String
        var table: String { "snap_items_\(suffix)" }
        var topic: String { "snaptest.public.\(table)" }
        var slot: String { "snap_slot_\(suffix)" }
        var logDirectory: String { directory.appendingPathComponent("data/log").path }
        var pipelineFile: URL { directory.appendingPathComponent("pipeline.yaml") }

        /// A table without a primary key, captured beside the first (replica identity full).
        var keylessTable: String { "snap_keyless_\(suffix)" }

        init(rows: Int, snapshot: String, chunkSize: Int, readers: Int = 2, withKeylessTable: Bool = false) throws {
            url = try testDatabaseURL()
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-snapshot-\(suffix)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try """
                version: 1
                name: snaptest
                source:
                  postgres:
                    url: ${env:OUTFLOW_PG_URL}
                    slot: \(slot)
                    publication: snap_pub_\(suffix)
                    tables: [public.\(table)\(withKeylessTable ? ", public.\(keylessTable)" : "")]
                    snapshot: \(snapshot)
                    snapshot_chunk_size: \(chunkSize)
                    snapshot_readers: \(readers)
                stages: []
                sink:
                  log:
                    dir: ./data/log
                    partitions: 3
                guarantee: exactly_once
                """.write(to: pipelineFile, atomically: true, encoding: .utf8)
            _ = try query("""
                CREATE TABLE \(table) (id int PRIMARY KEY, name text NOT NULL, n bigint NOT NULL, note text);
                INSERT INTO \(table) SELECT g, 'row ' || g, g * 7, CASE WHEN g % 3 = 0 THEN NULL ELSE md5(g::text) END FROM generate_series(1, \(rows)) g;
                """)
            if withKeylessTable {
                _ = try query("CREATE TABLE \(keylessTable) (id int, name text); ALTER TABLE \(keylessTable) REPLICA IDENTITY FULL")
            }
        }

        func query(_ sql: String) throws -> String {
            let psql = try #require(OutflowProcess.which("psql"))
            let result = try OutflowProcess.run(executable: psql, ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            #expect(result.status == 0, "\(sql): \(result.standardError)")
            return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func cleanUp() {
            _ = try? query("SELECT pg_drop_replication_slot('\(slot)') FROM pg_replication_slots WHERE slot_name = '\(slot)' AND NOT active")
            _ = try? query("DROP PUBLICATION IF EXISTS snap_pub_\(suffix); DROP TABLE IF EXISTS \(table); DROP TABLE IF EXISTS \(keylessTable)")
            try? FileManager.default.removeItem(at: directory)
        }

        /// Starts `outflow run` and waits until it streams.
        func start() throws -> (Process, URL) {
            let errorFile = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
            let process = Process()
            process.executableURL = try OutflowProcess.binary()
            process.arguments = ["run", pipelineFile.path, "--progress-interval", "1"]
            process.environment = ProcessInfo.processInfo.environment.merging(["OUTFLOW_PG_URL": url]) { $1 }
            process.currentDirectoryURL = directory
            process.standardError = try FileHandle(forWritingTo: errorFile)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            try waitFor("outflow run to start", seconds: 30) { (try String(contentsOf: errorFile, encoding: .utf8)).contains("resuming after") || !process.isRunning }
            #expect(process.isRunning, Comment(rawValue: Scenario.text(errorFile)))
            return (process, errorFile)
        }

        /// Polls `condition` until it holds, bounded by `seconds`.
        func waitFor(_ what: String, seconds: Int, _ condition: () throws -> Bool) throws {
            let deadline = ContinuousClock.now.advanced(by: .seconds(seconds))
            while try !condition() {
                guard ContinuousClock.now < deadline else { throw MissingTestPrerequisite(description: "timed out waiting for \(what)") }
                usleep(50_000)  // polling the log or a file for a condition, bounded by the deadline
            }
        }

        /// The control lines of `__snapshots` (read_committed), as text.
        func controlLines() throws -> [String] {
            let reader = try LogReader(directory: logDirectory)
            var lines: [String] = []
            for partition in try reader.partitions() where partition.topic == "__snapshots" {
                let partitionReader = try reader.open(partition, isolation: .readCommitted)
                while true {
                    let records = try partitionReader.poll(maxRecords: 1000)
                    if records.isEmpty { break }
                    lines += records.compactMap { $0.value.map { String(decoding: $0, as: UTF8.self) } }
                }
            }
            return lines
        }

        /// Snapshot reads committed in the log so far.
        func committedReads() throws -> Int {
            guard FileManager.default.fileExists(atPath: logDirectory) else { return 0 }
            let reader = try LogReader(directory: logDirectory)
            var count = 0
            for partition in try reader.partitions() where partition.topic == topic {
                let partitionReader = try reader.open(partition, isolation: .readCommitted)
                while true {
                    let records = try partitionReader.poll(maxRecords: 5000)
                    if records.isEmpty { break }
                    count += records.filter { $0.value.map { String(decoding: $0, as: UTF8.self).contains(#""op":"r""#) } ?? false }.count
                }
            }
            return count
        }

        /// Waits until the slot has confirmed everything written so far (the log holds it).
        func waitForCatchUp() throws {
            let target = try query("SELECT pg_current_wal_lsn()")
            try waitFor("the pipeline to catch up with \(target)", seconds: 60) {
                try query("SELECT coalesce(confirmed_flush_lsn >= '\(target)'::pg_lsn, false) FROM pg_replication_slots WHERE slot_name = '\(slot)'") == "t"
            }
        }

        /// kafka-python's view of the table's history: the final row per key, and reads per key.
        func oracle() throws -> (state: [String: [String: AnyHashable]], reads: [String: Int], inconsistentReads: [String]) {
            let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"] ?? "python3"
            let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/final_state.py").path
            let result = try OutflowProcess.run(executable: URL(fileURLWithPath: python), [script, logDirectory, topic])
            try #require(result.status == 0, "the oracle failed: \(result.standardError)")
            let lines = result.standardOutput.split(separator: "\n")
            try #require(lines.count == 3)
            let state = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: [String: AnyHashable]])
            let reads = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Int])
            let inconsistent = try #require(try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as? [String])
            return (state, reads, inconsistent)
        }

        /// The table as the server has it, in the same shape.
        func tableState() throws -> [String: [String: AnyHashable]] {
            let text = try query("SELECT coalesce(json_object_agg(id, json_build_object('id', id, 'name', name, 'n', n, 'note', note)), '{}') FROM \(table)")
            return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [String: AnyHashable]])
        }

        static func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

        func stop(_ process: Process) {
            process.terminate()
            process.waitUntilExit()
        }
    }

    @Test func anInitialSnapshotUnderConcurrentWritesLeavesTheTablesHistory() throws {
        let scenario = try Scenario(rows: 20_000, snapshot: "initial", chunkSize: 4000)
        defer { scenario.cleanUp() }
        // Updates, deletes and inserts of random rows in small transactions, from another
        // process, until the snapshot has finished: some commit while a chunk's SELECT runs
        // (after its snapshot was taken), so the rows it read are stale and must be dropped.
        // The pause between them only keeps the load moderate.
        let stop = "snap_stop_\(scenario.suffix)"
        _ = try scenario.query("CREATE TABLE \(stop) (done bool)")
        defer { _ = try? scenario.query("DROP TABLE IF EXISTS \(stop)") }
        let writes = """
            DO $$ DECLARE target int; i int := 0; BEGIN WHILE NOT EXISTS (SELECT 1 FROM \(stop)) LOOP
              i := i + 1;
              target := (random() * 19999)::int + 1;
              UPDATE \(scenario.table) SET name = 'updated ' || i, n = n + 1 WHERE id = target;
              IF i % 7 = 0 THEN DELETE FROM \(scenario.table) WHERE id = target + 1; END IF;
              IF i % 5 = 0 THEN INSERT INTO \(scenario.table) VALUES (20000 + i, 'new ' || i, i, NULL); END IF;
              COMMIT;
              PERFORM pg_sleep(0.002);
            END LOOP; END $$
            """
        let writer = Process()
        writer.executableURL = try #require(OutflowProcess.which("psql"))
        writer.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", scenario.url, "-c", writes]
        writer.standardOutput = FileHandle.nullDevice
        let (process, errorFile) = try scenario.start()
        defer { if process.isRunning { scenario.stop(process) } }
        try writer.run()
        defer { if writer.isRunning { writer.terminate() } }
        // The slot keeps advancing while the snapshot runs: a position sampled before the end
        // was seen is past the one it started from.
        let confirmed = "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '\(scenario.slot)'"
        let startedAt = try scenario.query(confirmed)
        var advancedDuringSnapshot = false
        try scenario.waitFor("the snapshot to finish", seconds: 120) {
            let now = try scenario.query(confirmed)
            if try scenario.controlLines().contains(where: { $0.contains(#""event":"finished""#) }) { return true }
            if try scenario.query("SELECT '\(now)'::pg_lsn > '\(startedAt)'::pg_lsn") == "t" { advancedDuringSnapshot = true }
            return false
        }
        #expect(advancedDuringSnapshot, "the slot did not advance while the snapshot ran")
        _ = try scenario.query("INSERT INTO \(stop) VALUES (true)")
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        try scenario.waitForCatchUp()
        scenario.stop(process)
        #expect(process.terminationStatus == 0, Comment(rawValue: Scenario.text(errorFile)))

        let (state, reads, inconsistentReads) = try scenario.oracle()
        let table = try scenario.tableState()
        #expect(state.count == table.count)
        #expect(state == table, "the log's final state differs from the table")
        #expect(reads.values.allSatisfy { $0 == 1 }, "a row was read twice")
        #expect(inconsistentReads.isEmpty, "reads that contradict the changes before them: \(inconsistentReads.prefix(10))")
        // Every row that existed before and was never written since was read.
        let untouched = try scenario.query("SELECT count(*) FROM \(scenario.table) WHERE id <= 20000 AND name LIKE 'row %'")
        #expect(reads.count >= Int(untouched) ?? .max)
        #expect(try scenario.controlLines().count == 2)
    }

    /// Three readers, so the kill lands with chunks of several key ranges in flight, each range
    /// at its own committed key.
    @Test func aSnapshotKilledHalfWayResumesAfterItsLastCommittedChunk() throws {
        let rows = 30_000
        let scenario = try Scenario(rows: rows, snapshot: "initial", chunkSize: 1000, readers: 3)
        defer { scenario.cleanUp() }
        var (process, errorFile) = try scenario.start()
        try scenario.waitFor("some chunks to commit", seconds: 60) { try scenario.committedReads() >= 3000 || !process.isRunning }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let readBeforeKill = try scenario.committedReads()
        #expect(readBeforeKill >= 3000)
        #expect(readBeforeKill < rows, "the snapshot finished before the kill: nothing to resume")

        (process, errorFile) = try scenario.start()
        defer { if process.isRunning { scenario.stop(process) } }
        try scenario.waitFor("the snapshot to finish", seconds: 120) { try scenario.controlLines().contains { $0.contains(#""event":"finished""#) } }
        scenario.stop(process)
        #expect(process.terminationStatus == 0, Comment(rawValue: Scenario.text(errorFile)))
        // Resumed, not restarted: the second run took up the snapshot where its last commit left it.
        // (At least what the log showed after the kill: a kill after the commit record and before
        // the markers leaves rows that read_committed sees only once the restart recovered them.)
        let stderr = try String(contentsOf: errorFile, encoding: .utf8)
        let resumedRows = stderr.firstMatch(of: /resuming snapshot initial: (\d+) rows/).flatMap { Int($0.1) }
        #expect(resumedRows.map { $0 >= readBeforeKill && $0 < rows } == true, "\(stderr)")

        let (state, reads, inconsistentReads) = try scenario.oracle()
        #expect(reads.count == rows, "rows lost")
        #expect(inconsistentReads.isEmpty)
        #expect(reads.values.allSatisfy { $0 == 1 }, "a row read twice: the restart read committed chunks again")
        #expect(state == (try scenario.tableState()))
        // One request, one end: the restart took the snapshot up, it did not start a new one.
        #expect(try scenario.controlLines().count == 2)
    }

    @Test func aBackfillRequestedOfARunningPipeline() throws {
        let scenario = try Scenario(rows: 3000, snapshot: "never", chunkSize: 700, withKeylessTable: true)
        defer { scenario.cleanUp() }
        let (process, errorFile) = try scenario.start()
        defer { if process.isRunning { scenario.stop(process) } }
        _ = try scenario.query("UPDATE \(scenario.table) SET name = 'streamed' WHERE id = 1")

        let refused = try OutflowProcess.run(["snapshot", scenario.pipelineFile.path, "--table", "public.not_captured"], environment: ["OUTFLOW_PG_URL": scenario.url])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("not one of the pipeline's tables"))
        let keyless = try OutflowProcess.run(["snapshot", scenario.pipelineFile.path, "--table", "public.\(scenario.keylessTable)"], environment: ["OUTFLOW_PG_URL": scenario.url])
        #expect(keyless.status == 1)
        #expect(keyless.standardError.contains("has no primary key"), "\(keyless.standardError)")

        let requested = try OutflowProcess.run(
            ["snapshot", scenario.pipelineFile.path, "--table", "public.\(scenario.table)", "--where", "id > 1000"], environment: ["OUTFLOW_PG_URL": scenario.url])
        #expect(requested.status == 0, "\(requested.standardError)")
        #expect(requested.standardOutput.contains("requested"))
        try scenario.waitFor("the backfill to finish", seconds: 60) { try scenario.controlLines().contains { $0.contains(#""event":"finished""#) } }
        try scenario.waitForCatchUp()
        scenario.stop(process)
        #expect(process.terminationStatus == 0, Comment(rawValue: Scenario.text(errorFile)))

        let (state, reads, inconsistentReads) = try scenario.oracle()
        #expect(reads.count == 2000)
        #expect(inconsistentReads.isEmpty)
        #expect(reads.keys.allSatisfy { Int($0)! > 1000 })
        #expect(state["1"]?["name"] == AnyHashable("streamed"))
        #expect(state.count == 2001)
    }
}
