import Foundation
import PGOutput
import PostgresSource
import Testing

/// A server with wal_level = replica (a second sandbox server, started and stopped here):
/// preflight says what to change, and creating a logical slot fails with a clear error.
@Suite struct WalLevelConformanceTests {
    @Test func walLevelReplicaIsReportedAndRefusesLogicalSlots() throws {
        let server = try SandboxServer(["--wal-level", "replica"])
        defer { server.stop() }
        let connection = try PostgresConnection(server.url)
        #expect(try connection.execute("SHOW wal_level").rows.first?.first == "replica")

        let report = try connection.preflight()
        #expect(!report.isReady)
        let problem = try #require(report.problems.first { $0.code == .walLevelNotLogical })
        #expect(problem.message.contains("'replica'"))
        #expect(problem.hint?.contains("ALTER SYSTEM SET wal_level = logical") == true)
        #expect(problem.hint?.contains("restart") == true)
        #expect(report.lines.contains("wal_level: replica"))

        // What Postgres says when a logical slot is created anyway, by command and by function.
        let replication = try PostgresConnection(server.url, mode: .replication)
        let command = #expect(throws: PostgresError.self) { try replication.createLogicalReplicationSlot("outflow_replica_level") }
        #expect(command?.sqlState == "55000")
        #expect(command?.message.contains("wal_level") == true)
        let function = #expect(throws: PostgresError.self) {
            try connection.execute("SELECT pg_create_logical_replication_slot('outflow_replica_level', 'pgoutput')")
        }
        #expect(function?.sqlState == "55000")
        #expect(function?.message.contains("wal_level") == true)
        #expect(try PostgresConnection(server.adminURL).replicationSlots().isEmpty)
    }
}
