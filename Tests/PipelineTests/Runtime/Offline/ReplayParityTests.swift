import Foundation
import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// The live run and a replay of its changelog go through the same event processor: the same
/// changes give the same records and the same dead letters. Server-less: a scripted source
/// writes a real log (with its changelog), then the replay reads it back.
@Suite struct ReplayParityTests {
    @Test func aReplayGivesTheRecordsAndDeadLettersTheLiveRunGave() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-parity-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = PipelineRunner.Settings(pipelineName: "test", deadLetterTopic: "test.dead-letter")
        settings.changelog = true
        settings.partitions = 2
        let script = OutboxScript.transaction(xid: 10, at: 0, keys: ["a", "b"])
            + OutboxScript.transaction(xid: 11, at: 1, keys: ["bad"], payload: "not json")
            + OutboxScript.transaction(xid: 12, at: 2, keys: ["c"], payload: #"{"n": 3}"#)
            + OutboxScript.transaction(xid: 13, at: 3, keys: ["also-bad"], payload: "{")

        let writer = try LogWriter.open(directory: directory)
        let clock = ManualClock()
        let trace = Trace(clock: clock)
        let source = ScriptedSource(script, clock: clock, trace: trace)
        let live = try PipelineRunner(graph: try OutboxScript.graph(), writer: writer, settings: settings, clock: clock)
        try live.run(source: source, shouldStop: { source.remaining == 0 })
        #expect(live.progress.deadLetters == 2)
        #expect(live.progress.records == 3)

        let replayer = Replayer(graph: try OutboxScript.graph(), writer: writer, settings: settings, topicSuffix: ".replay")
        try replayer.replay(from: LSN(1000), through: nil, shouldStop: { false })
        writer.close()
        #expect(replayer.progress.sourceTransactions == 4)
        #expect(replayer.progress.deadLetters == 2)

        let records = try committedRecords(in: directory)
        for topic in ["outbox.event.order", "test.dead-letter"] {
            let liveRecords = records.filter { $0.key.topic == topic }.sorted { $0.key < $1.key }.map(\.value)
            let replayed = records.filter { $0.key.topic == topic + ".replay" }.sorted { $0.key < $1.key }.map(\.value)
            #expect(!liveRecords.isEmpty)
            #expect(liveRecords.map { $0.map(\.record) } == replayed.map { $0.map(\.record) }, "\(topic)")
        }
    }

    func committedRecords(in directory: String) throws -> [TopicPartition: [StoredRecord]] {
        let reader = try LogReader(directory: directory)
        var result: [TopicPartition: [StoredRecord]] = [:]
        for partition in try reader.partitions() {
            let partitionReader = try reader.open(partition, isolation: .readCommitted)
            while true {
                let batch = try partitionReader.poll(maxRecords: 1000)
                if batch.isEmpty { break }
                result[partition, default: []] += batch
            }
        }
        return result
    }
}
