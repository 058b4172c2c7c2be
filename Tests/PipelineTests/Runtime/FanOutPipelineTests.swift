import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// pipelines/fanout.yaml's shape, built by PipelineBuilder from YAML and run for real.
@Suite struct FanOutPipelineTests {
    @Test func routeOutputsBranchAndJoinInSourceOrder() throws {
        let harness = try OutboxHarness()
        let template = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("pipelines/fanout.yaml"), encoding: .utf8)
        let yaml = template
            .replacingOccurrences(of: "public.outbox", with: "public.\(harness.table)")
            .replacingOccurrences(of: "outflow_regions", with: harness.slot)
            .replacingOccurrences(of: "publication: \(harness.slot)", with: "publication: \(harness.publication)")
        let config = try PipelineFile.parse(yaml: yaml, environment: .fixed(["OUTFLOW_PG_URL": harness.url.rawValue]))
        #expect(config.source.publication == harness.publication)
        let built = try PipelineBuilder.build(config)

        for (index, region) in ["eu", "us", "eu", "ap"].enumerated() {
            try harness.sql.execute(harness.insert(key: "k\(index)", eventType: "E\(index)", payload: #"{"region": "\#(region)"}"#))
        }
        try harness.sql.execute(harness.insert(key: "k4", eventType: "E4", payload: "{}"))
        let writer = try LogWriter.open(directory: harness.logDirectory, config: try #require(built.logConfig))
        let runner = try PipelineRunner(graph: built.graph, writer: writer, settings: built.runner)
        var replication = built.replication
        replication.statusInterval = .milliseconds(100)
        replication.messages = false  // other tests' transactional messages would count as transactions here
        let source = try ReplicationSession(settings: replication)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        try runner.run(source: ReplicationSource(source), shouldStop: { runner.progress.sourceTransactions >= 5 || ContinuousClock.now >= deadline })
        source.close()
        writer.close()

        let records = try harness.committedRecords()
        let europe = records.filter { $0.key.topic == "orders.eu.order" }.flatMap(\.value)
        #expect(Set(europe.compactMap(\.keyText)) == ["k0", "k2"])
        #expect(europe.allSatisfy { $0.headerText("region") == "eu" })
        let elsewhere = records.filter { $0.key.topic == "outbox.event.order" }.flatMap(\.value)
        #expect(Dictionary(uniqueKeysWithValues: elsewhere.compactMap { record in record.keyText.map { ($0, record.headerText("region")) } })
            == ["k1": "us", "k3": "ap", "k4": "unknown"])
        #expect(runner.progress.deadLetters == 0)
    }
}
