import Foundation
import Testing

/// Outbox cleanup in `outflow run`: rows deleted once durable, the figures in `outflow status`
/// and on /metrics, and a start refused without the DELETE grant.
@Suite struct OutboxCleanupCommandTests {
    typealias Scenario = RunCommandTests.Scenario

    /// The scenario's pipeline with `cleanup:` in its outbox stage, and the table's insert-time column.
    static func withCleanup(_ scenario: Scenario) throws {
        let file = try String(contentsOf: scenario.pipelineFile, encoding: .utf8)
        let outbox = "      table: public.\(scenario.table)\n"
        try #require(file.contains(outbox))
        try file.replacingOccurrences(of: outbox, with: outbox + "      cleanup: {retention: 0s, interval: 100ms}\n")
            .write(to: scenario.pipelineFile, atomically: true, encoding: .utf8)
        try scenario.psql("ALTER TABLE \(scenario.table) ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()")
        try scenario.psql("CREATE INDEX ON \(scenario.table) (created_at)")
    }

    struct Status: Decodable {
        struct Cleanup: Decodable { var table: String; var rowsDeleted: Int64; var partitionsDropped: Int64; var lastError: String? }
        var outboxCleanup: [Cleanup]?
    }

    @Test func durableRowsAreDeletedAndStatusAndMetricsSaySo() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        try Self.withCleanup(scenario)
        let (process, errorFile) = try scenario.start(extraArguments: ["--metrics-listen", "127.0.0.1:0"])
        for index in 0..<5 {
            try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'c-\(index)', 'Created', '{}')")
        }
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while try scenario.query("SELECT count(*) FROM \(scenario.table)") != "0", ContinuousClock.now < deadline {
            usleep(50_000)  // polling the table for a condition, bounded by the deadline
        }
        let output = try String(contentsOf: errorFile, encoding: .utf8)
        #expect(try scenario.query("SELECT count(*) FROM \(scenario.table)") == "0", "\(output)")
        #expect(try scenario.committedKeys().count == 5, "every deleted row's event is in the log")
        let port = try #require(MetricsEndpointCommandTests.port(in: output))
        let metrics = try MetricsEndpointCommandTests.get(port: port, path: "/metrics").body
        let deleted = metrics.split(separator: "\n").first { $0.hasPrefix("outflow_outbox_cleanup_rows_deleted_total{") }
        #expect(deleted?.hasSuffix(" 5") == true, "\(metrics)")
        #expect(metrics.contains("outflow_outbox_oldest_row_age_seconds{"))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        let result = try OutflowProcess.run(
            ["status", scenario.pipelineFile.path, "--json"], environment: ["OUTFLOW_PG_URL": scenario.url], currentDirectory: scenario.directory)
        #expect(result.status == 0, "\(result.standardError)")
        let status = try JSONDecoder().decode(Status.self, from: Data(result.standardOutput.utf8))
        let cleanup = try #require(status.outboxCleanup?.first)
        #expect(cleanup.table == "public.\(scenario.table)" && cleanup.rowsDeleted == 5 && cleanup.lastError == nil)
        let text = try OutflowProcess.run(["status", "--log", scenario.logDirectory])
        #expect(text.standardOutput.contains("outbox cleanup public.\(scenario.table): 5 rows deleted, 0 partitions dropped, no rows left"), "\(text.standardOutput)")
    }

    @Test func aMissingDeleteGrantStopsTheStartAndNamesIt() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        try Self.withCleanup(scenario)
        try scenario.psql("REVOKE DELETE ON \(scenario.table) FROM CURRENT_USER")
        let result = try OutflowProcess.run(
            ["run", scenario.pipelineFile.path, "--progress-interval", "0"], environment: ["OUTFLOW_PG_URL": scenario.url], currentDirectory: scenario.directory)
        #expect(result.status == 1)
        #expect(result.standardError.contains("may not delete from public.\(scenario.table)"), "\(result.standardError)")
        #expect(result.standardError.contains("GRANT DELETE ON \"public\".\"\(scenario.table)\" TO"), "\(result.standardError)")
    }
}
