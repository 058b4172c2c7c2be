import Logging
import MetricsTestKit
import PGOutput
@testable import Pipeline
import PostgresSource
import Testing

/// The slot monitor's figures are the server's: the WAL the slot holds back, its status.
@Suite struct SlotMonitorTests {
    @Test func aSampleShowsTheWALTheSlotHoldsBack() throws {
        let harness = try OutboxHarness()
        let factory = TestMetrics()
        let monitor = SlotMonitor(connectionString: harness.url, slot: harness.slot, logger: Logger(label: "test"), factory: factory)
        // WAL written after the slot's restart point is held back for it until it is confirmed.
        for index in 0..<50 { try harness.sql.execute(harness.insert(key: "w-\(index)")) }
        func retained() throws -> Double? {
            try harness.sql.execute("SELECT pg_current_wal_lsn() - restart_lsn AS retained FROM pg_replication_slots WHERE slot_name = '\(harness.slot)'")
                .value("retained").flatMap(Double.init)
        }
        let before = try #require(try retained())
        try monitor.sample(try PostgresConnection(harness.url))
        let after = try #require(try retained())
        let sampled = try #require(try factory.expectGauge("outflow_slot_retained_wal_bytes").lastValue)
        // Nothing consumes this slot, so what it holds back only grows between the two queries.
        #expect(sampled >= before && sampled <= after)
        #expect(sampled > 0)
        #expect(try factory.expectGauge("outflow_slot_active").lastValue == 0)
        #expect(try factory.expectGauge("outflow_slot_lost").lastValue == 0)
        // The default threshold (1 GiB) is far away.
        #expect(try factory.expectGauge("outflow_slot_wal_warning").lastValue == 0)
    }

    @Test func aSlotHoldingBackMoreThanTheThresholdWarns() throws {
        let harness = try OutboxHarness()
        try harness.sql.execute(harness.insert(key: "w"))
        let factory = TestMetrics()
        let monitor = SlotMonitor(connectionString: harness.url, slot: harness.slot, warnAbove: 1, logger: Logger(label: "test"), factory: factory)
        try monitor.sample(try PostgresConnection(harness.url))
        #expect(try factory.expectGauge("outflow_slot_wal_warning").lastValue == 1)
    }
}
