import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

@Suite struct ReplayTests {
    @Test func replayRerunsTheStagesOverTheChangelogFromAPosition() throws {
        let harness = try OutboxHarness()
        for index in 0..<4 { try harness.sql.execute(harness.insert(key: "r-\(index)", eventType: "E\(index)")) }
        try harness.run(untilTransactions: 4, changelog: true)
        let live = try harness.committedRecords()
        let lsns = live.filter { $0.key.topic == "outbox.event.order" }.values.joined().compactMap { $0.headerText("outflow.lsn").flatMap { LSN($0) } }.sorted()
        try #require(lsns.count == 4)
        let checkpointBefore = try LogReader(directory: harness.logDirectory).lastCommit()?.metadata

        let writer = try LogWriter.open(directory: harness.logDirectory)
        let replayer = Replayer(
            graph: try harness.stages(), writer: writer,
            settings: PipelineRunner.Settings(pipelineName: "test", deadLetterTopic: "test.dead-letter"), topicSuffix: ".replay")
        // From the second transaction through the third.
        try replayer.replay(from: lsns[1], through: lsns[2], shouldStop: { false })
        #expect(replayer.progress.sourceTransactions == 2)
        let range = try #require(try Replayer.retainedRange(in: harness.logDirectory))
        #expect(range == lsns[0]...lsns[3])
        let outOfRange = #expect(throws: PipelineError.self) { try replayer.replay(from: LSN(lsns[3].rawValue + 1), through: nil, shouldStop: { false }) }
        #expect(outOfRange?.message.contains("\(lsns[3])") == true)
        writer.close()

        let records = try harness.committedRecords()
        let replayed = records.filter { $0.key.topic == "outbox.event.order.replay" }.flatMap(\.value)
        #expect(Set(replayed.compactMap(\.keyText)) == ["r-1", "r-2"])
        #expect(Set(replayed.compactMap { $0.headerText("type") }) == ["E1", "E2"])
        // The live topics and the pipeline's resume position are untouched.
        #expect(records.filter { $0.key.topic == "outbox.event.order" }.flatMap(\.value).count == 4)
        #expect(try LogReader(directory: harness.logDirectory).lastCommit()?.metadata == checkpointBefore)
    }
}
