import Testing
import PGOutput
import PostgresSource

@Suite struct ReplicationConnectionTests {
    @Test func identifySystemReportsTheServersPosition() throws {
        let replication = try PostgresConnection(try TestPostgres.url(), mode: .replication)
        let sql = try PostgresConnection(try TestPostgres.url())
        let identity = try replication.identifySystem()

        let database = try sql.execute("SELECT current_database() AS db, pg_current_wal_lsn()::text AS lsn")
        #expect(identity.database == database.value("db"))
        #expect(identity.timeline >= 1)
        #expect(!identity.systemID.isEmpty && identity.systemID.allSatisfy(\.isNumber))
        let current = try #require(database.value("lsn").flatMap { LSN($0) })
        #expect(identity.xlogPosition > .zero)
        #expect(identity.xlogPosition <= current)

        let control = try sql.execute("SELECT system_identifier::text AS id FROM pg_control_system()")
        #expect(identity.systemID == control.value("id"))
    }

    @Test func createsAndDropsALogicalPgoutputSlot() throws {
        let replication = try PostgresConnection(try TestPostgres.url(), mode: .replication)
        let sql = try PostgresConnection(try TestPostgres.url())
        let name = TestPostgres.uniqueName("test_slot")

        let slot = try replication.createLogicalReplicationSlot(name)
        #expect(slot.name == name)
        #expect(slot.outputPlugin == "pgoutput")
        let listed = try sql.execute(
            "SELECT plugin, slot_type, two_phase::text, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = \(try sql.quoteLiteral(name))")
        #expect(listed.rows.count == 1)
        #expect(listed.value("plugin") == "pgoutput")
        #expect(listed.value("slot_type") == "logical")
        #expect(listed.value("two_phase") == "false")
        #expect(listed.value("confirmed").flatMap { LSN($0) } == slot.consistentPoint)

        try replication.dropReplicationSlot(name)
        let after = try sql.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = \(try sql.quoteLiteral(name))")
        #expect(after.rows.isEmpty)
    }

    @Test func dropsOnlyWhatExists() throws {
        let replication = try PostgresConnection(try TestPostgres.url(), mode: .replication)
        let error = #expect(throws: PostgresError.self) {
            try replication.dropReplicationSlot(TestPostgres.uniqueName("missing_slot"))
        }
        #expect(error?.code == .queryFailed)
        #expect(error?.sqlState == "42704")  // undefined_object
    }

    @Test func refusesInvalidSlotNamesBeforeSendingThem() throws {
        let replication = try PostgresConnection(try TestPostgres.url(), mode: .replication)
        for name in ["", "Upper", "has-dash", "x; DROP TABLE t", String(repeating: "a", count: 64)] {
            let error = #expect(throws: PostgresError.self) { try replication.createLogicalReplicationSlot(name) }
            #expect(error?.message.contains("invalid replication slot name") == true)
        }
    }

    @Test func replicationCommandsNeedAReplicationConnection() throws {
        let sql = try PostgresConnection(try TestPostgres.url())
        let error = #expect(throws: PostgresError.self) { try sql.identifySystem() }
        #expect(error?.code == .protocolViolation)
    }
}
