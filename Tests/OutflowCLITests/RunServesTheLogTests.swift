import Foundation
import SegmentLog
import Testing

/// `serve:` in the pipeline file: `outflow run` serves the log it writes to Kafka consumers from
/// the same process; a stock consumer (kafka-python) reads exactly the committed events.
@Suite struct RunServesTheLogTests {
    @Test func aKafkaConsumerReadsTheCommittedEventsFromARunningPipeline() throws {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
        }
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        let file = try FileHandle(forWritingTo: scenario.pipelineFile)
        file.seekToEndOfFile()
        file.write(Data("\nserve: {listen: '127.0.0.1:0'}\n".utf8))
        file.closeFile()
        let (process, errors) = try scenario.start()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        let line = try #require(try String(contentsOf: errors, encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("kafka: serving the log on ") })
        let address = String(line.dropFirst("kafka: serving the log on ".count).prefix { $0 != " " })

        for index in 0..<5 {
            try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'key-\(index % 2)', 'Created', '{\"n\": \(index)}')")
        }
        try scenario.psql("BEGIN; INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'key-0', 'Created', '{\"n\": 99}'); ROLLBACK;")
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while try scenario.committedKeys().count < 5, ContinuousClock.now < deadline { usleep(50_000) }  // bounded poll of the log

        let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/consume_endpoint.py").path
        let result = try OutflowProcess.run(executable: URL(fileURLWithPath: python), [script, address, "outbox.event.order", "read_committed"])
        try #require(result.status == 0, "kafka-python failed: \(result.standardError)")
        struct Consumed: Decodable { var partitions: [Int32]; var values: [String: [String]] }
        let consumed = try JSONDecoder().decode(Consumed.self, from: Data(result.standardOutput.utf8))
        // The pipeline file declares 3 partitions: all listed, written or not.
        #expect(consumed.partitions == [0, 1, 2])
        // Per partition, what the log holds committed, in order.
        let reader = try LogReader(directory: scenario.logDirectory)
        for partition in try reader.partitions() where partition.topic == "outbox.event.order" {
            let stored = try reader.open(partition, isolation: .readCommitted).poll(maxRecords: 100).compactMap { $0.value.map { String(decoding: $0, as: UTF8.self) } }
            #expect(consumed.values[String(partition.partition)] == stored)
        }
        let all = consumed.values.values.flatMap { $0 }
        #expect(all.count == 5)
        #expect(!all.contains(#"{"n": 99}"#))
    }
}
