import Foundation
import Logging
import MetricsTestKit
import PGOutput
@testable import Pipeline
import SegmentLog
import Testing

/// The log monitor's gauges are the log's own offsets and the groups' lag.
@Suite struct LogMonitorTests {
    @Test func partitionOffsetsAndGroupLagAreTheLogs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-logmonitor-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = PipelineRunner.Settings(pipelineName: "test", deadLetterTopic: "test.dead-letter")
        settings.partitions = 2
        let writer = try LogWriter.open(directory: directory)
        let clock = ManualClock()
        let source = ScriptedSource(
            (0..<6).flatMap { OutboxScript.transaction(xid: UInt32(10 + $0), at: Int64($0), keys: ["k\($0)"]) }, clock: clock, trace: Trace(clock: clock))
        let runner = try PipelineRunner(graph: try OutboxScript.graph(), writer: writer, settings: settings, clock: clock)
        try runner.run(source: source, shouldStop: { source.remaining == 0 })
        writer.close()
        let reader = try LogReader(directory: directory)
        let partitions = try reader.partitions().filter { $0.topic == "outbox.event.order" }
        try #require(!partitions.isEmpty)
        try ConsumerGroups(logDirectory: directory).commit(group: "billing", offsets: [partitions[0]: 1])

        let factory = TestMetrics()
        LogMonitor(directory: directory, logger: Logger(label: "test"), factory: factory).sample()
        for tp in partitions {
            let offsets = try reader.open(tp, isolation: .readCommitted).offsets()
            let labels = [("topic", tp.topic), ("partition", String(tp.partition))]
            #expect(try factory.expectGauge("outflow_partition_end_offset", labels).lastValue == Double(offsets.endOffset))
            #expect(try factory.expectGauge("outflow_partition_last_stable_offset", labels).lastValue == Double(offsets.lastStableOffset))
        }
        let first = try reader.open(partitions[0], isolation: .readCommitted).offsets()
        let lag = try factory.expectGauge("outflow_consumer_group_lag", [("group", "billing"), ("topic", partitions[0].topic), ("partition", String(partitions[0].partition))])
        #expect(lag.lastValue == Double(first.lastStableOffset - 1))
        #expect(first.lastStableOffset > 1)
    }
}
