import Foundation
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A replay killed in the middle of its writes leaves nothing of itself visible and the live
/// pipeline's position untouched: replayed again it writes every event once, and the pipeline
/// resumes where it was.
@Suite struct ReplayCrashTests {
    @Test func aReplayKilledMidWriteLeavesNothingVisibleAndTheLivePositionUntouched() throws {
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        // The changelog makes replay possible.
        let file = try String(contentsOf: scenario.pipelineFile, encoding: .utf8)
            .replacingOccurrences(of: "    tables: [public.\(scenario.table)]\n", with: "    tables: [public.\(scenario.table)]\n    changelog:\n      retention: 7d\n")
        try file.write(to: scenario.pipelineFile, atomically: true, encoding: .utf8)
        func insert(_ keys: [String]) throws {
            try scenario.psql("BEGIN; " + keys.map { "INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', '\($0)', 'Created', '{}');" }.joined() + " COMMIT;")
        }
        func runUntil(_ count: Int) throws {
            let (process, errors) = try scenario.start()
            try insert((0..<5).map { "k-\(count)-\($0)" })
            let deadline = ContinuousClock.now.advanced(by: .seconds(30))
            while try scenario.committedKeys().count < count, ContinuousClock.now < deadline { usleep(50_000) }  // bounded poll of the log
            process.terminate()
            process.waitUntilExit()
            let output = try String(contentsOf: errors, encoding: .utf8)
            #expect(process.terminationStatus == 0, "\(output)")
        }
        try runUntil(5)
        try runUntil(10)
        let live = try scenario.committedKeys()
        #expect(live.count == 10)
        let checkpointBefore = try LogReader(directory: scenario.logDirectory).lastCommit()?.metadata
        // From the first position the changelog holds (status says which).
        struct Status: Decodable { var changelogRange: [String]? }
        let status = try OutflowProcess.run(["status", "--log", scenario.logDirectory, "--json"])
        let from = try #require(try JSONDecoder().decode(Status.self, from: Data(status.standardOutput.utf8)).changelogRange?.first, "\(status.standardOutput)")

        // Killed once its first batch is appended, before any commit record.
        let crashed = try OutflowProcess.run(
            ["replay", scenario.pipelineFile.path, "--from-lsn", from, "--into", ".replay"],
            environment: ["OUTFLOW_PG_URL": scenario.url, "OUTFLOW_CRASH_AT": "log.append.after-data"], currentDirectory: scenario.directory)
        #expect(crashed.status != 0 && crashed.standardError.contains("crash point log.append.after-data"), "\(crashed.standardError)")
        #expect(try replayedKeys(scenario).isEmpty, "a killed replay's records are visible")

        // Again, to the end: every event once, and the live checkpoint as it was.
        let replayed = try OutflowProcess.run(
            ["replay", scenario.pipelineFile.path, "--from-lsn", from, "--into", ".replay"],
            environment: ["OUTFLOW_PG_URL": scenario.url], currentDirectory: scenario.directory)
        #expect(replayed.status == 0, "\(replayed.standardError)")
        #expect(try replayedKeys(scenario).sorted() == live.sorted())
        #expect(try LogReader(directory: scenario.logDirectory).lastCommit()?.metadata == checkpointBefore)
        let verify = try OutflowProcess.run(["log", "verify", scenario.logDirectory])
        #expect(verify.status == 0, "\(verify.standardOutput)")

        // The live pipeline resumes where it was: nothing lost, nothing twice.
        try runUntil(15)
        let after = try scenario.committedKeys()
        #expect(after.count == 15 && Set(after).count == 15)
    }

    func replayedKeys(_ scenario: RunCommandTests.Scenario) throws -> [String] {
        let reader = try LogReader(directory: scenario.logDirectory)
        var keys: [String] = []
        for partition in try reader.partitions() where partition.topic == "outbox.event.order.replay" {
            let partitionReader = try reader.open(partition, isolation: .readCommitted)
            while case let records = try partitionReader.poll(maxRecords: 1000), !records.isEmpty {
                keys += records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }
            }
        }
        return keys
    }
}
