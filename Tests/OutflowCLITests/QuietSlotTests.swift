import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A pipeline whose tables are quiet on a busy server must not pin the server's WAL: another
/// database writes, nothing reaches our publication, and the slot's confirmed position still
/// moves past those writes (the idle acknowledgement of the server's keepalives, and the
/// heartbeat, on by default, as its fallback).
@Suite struct QuietSlotTests {
    @Test func anotherDatabasesWritesDoNotPinTheSlotOfAQuietPipeline() throws {
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        let admin = try #require(ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_ADMIN_URL"], "OUTFLOW_TEST_PG_ADMIN_URL is not set: run under make test")
        let psql = try #require(OutflowProcess.which("psql"))
        func run(_ url: String, _ sql: String) throws -> String {
            let result = try OutflowProcess.run(executable: psql, ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            #expect(result.status == 0, "\(sql): \(result.standardError)")
            return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let database = "quiet_other_\(scenario.suffix)"
        _ = try run(admin, "CREATE DATABASE \(database)")
        defer { _ = try? run(admin, "DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
        var other = try #require(URLComponents(string: admin))
        other.path = "/\(database)"
        let otherURL = try #require(other.string)

        // The pipeline's default settings: nothing about heartbeats in the file.
        let (process, _) = try scenario.start()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        let slot = "run_slot_\(scenario.suffix)"
        let before = try scenario.query("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '\(slot)'")

        // Some megabytes of WAL from the other database; our captured table sees nothing.
        _ = try run(otherURL, "CREATE TABLE busy (id int, filler text)")
        _ = try run(otherURL, "INSERT INTO busy SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g")
        let target = try scenario.query("SELECT pg_current_wal_lsn()")
        #expect(try scenario.query("SELECT '\(target)'::pg_lsn - '\(before)'::pg_lsn > 8 * 1024 * 1024") == "t")

        // The slot's confirmed position reaches the other database's writes (bounded poll of the server).
        let deadline = ContinuousClock.now.advanced(by: .seconds(90))
        var confirmed = before
        while ContinuousClock.now < deadline {
            confirmed = try scenario.query("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '\(slot)'")
            if try scenario.query("SELECT '\(confirmed)'::pg_lsn >= '\(target)'::pg_lsn") == "t" { break }
            usleep(200_000)
        }
        #expect(try scenario.query("SELECT '\(confirmed)'::pg_lsn >= '\(target)'::pg_lsn") == "t",
                "the slot stayed at \(confirmed), before the other database's writes ending at \(target)")
        #expect(process.isRunning)
        // Nothing of the other database reached the log.
        #expect(try scenario.committedKeys().isEmpty)
    }
}
