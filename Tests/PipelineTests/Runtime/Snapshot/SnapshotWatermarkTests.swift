import Foundation
import MetricsTestKit
import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// The watermark merge (DBLog) on the real runner and log sink, with the table and its stream
/// in memory: which rows a chunk emits, where chunks start, and how a snapshot resumes.
@Suite struct SnapshotWatermarkTests {
    final class Run {
        let database: SnapshotTestDatabase
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-snapshot-\(UUID().uuidString)").path
        let clock = ManualClock()
        var consumed = 0

        init(rows: [Int: String]) { database = SnapshotTestDatabase(rows: rows) }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        /// Runs a pipeline on the stream until `stop` says so (or the snapshot is idle and the
        /// stream read), then stops it as SIGTERM does. Returns the coordinator.
        @discardableResult
        func run(
            mode: SnapshotMode = .initial, chunkSize: Int = 4, tables: [TableName] = [SnapshotTestDatabase.name], metrics: PipelineMetrics? = nil,
            stop: ((SnapshotCoordinator) -> Bool)? = nil
        ) throws -> SnapshotCoordinator {
            let writer = try LogWriter.open(directory: directory)
            defer { writer.close() }
            var settings = SnapshotCoordinator.Settings(slot: "slot", tables: tables)
            settings.mode = mode
            settings.chunkSize = chunkSize
            let snapshots = SnapshotCoordinator(settings: settings, reader: database)
            let runner = try PipelineRunner(
                graph: try CompiledStageGraph(stages: [], wiring: []), writer: writer,
                settings: PipelineRunner.Settings(pipelineName: "test", deadLetterTopic: "test.dead-letter"), clock: clock, snapshots: snapshots)
            let source = StreamSource(database, clock: clock, from: consumed)
            let deadline = clock.now.advanced(by: .seconds(600))
            try runner.run(source: source, shouldStop: {
                if clock.now >= deadline { return true }
                if let stop { return stop(snapshots) }
                return snapshots.progress.isIdle && snapshots.committed == snapshots.progress && source.consumed == self.database.stream.count
            }, report: { progress in metrics?.observe(progress, serverWAL: nil, now: 0) })
            consumed = source.consumed
            return snapshots
        }

        var records: [LoggedRecord] { get throws { try SnapshotLog.records(in: directory) } }
        var reads: [LoggedRecord] { get throws { try records.filter { $0.op == "r" } } }
    }

    static func rows(_ ids: ClosedRange<Int>) -> [Int: String] { Dictionary(uniqueKeysWithValues: ids.map { ($0, "row \($0)") }) }

    @Test func everyRowIsReadOnceInKeyOrderAsDebeziumReads() throws {
        let run = Run(rows: Self.rows(1...10))
        try run.run(chunkSize: 4)
        let reads = try run.reads
        #expect(reads.map(\.id) == Array(1...10).map { Optional($0) })
        #expect(reads.allSatisfy { $0.topic == "test.public.items" && $0.headers["outflow.snapshot"] == "initial" })
        #expect(reads.map(\.snapshotMark) == Array(repeating: "true", count: 9) + ["last"])
        #expect(reads.first?.key == #"{"id":1}"#)
        // Chunks of 4: after nothing, after 4, after 8 (the third one short, so the table is done).
        #expect(run.database.readsAfter == [nil, 4, 8])
        let control = try run.records.filter { $0.topic == SnapshotCoordinator.controlTopic }
        #expect(control.map { $0.value["event"] as? String } == ["requested", "finished"])
        #expect(control.last?.value["rows"] as? Int == 10)
    }

    @Test func aTableOfWholeChunksEndsWithAnEmptyOne() throws {
        let run = Run(rows: Self.rows(1...8))
        try run.run(chunkSize: 4)
        #expect(try run.reads.map(\.id) == Array(1...8).map { Optional($0) })
        #expect(run.database.readsAfter == [nil, 4, 8])
    }

    @Test(arguments: [SnapshotTestDatabase.Moment.afterLow, .afterSelect])
    func aRowChangedInsideTheWindowComesFromTheStreamNotTheChunk(moment: SnapshotTestDatabase.Moment) throws {
        let run = Run(rows: Self.rows(1...6))
        run.database.during[0] = [moment: [.upsert(2, "changed")]]
        try run.run(chunkSize: 10)
        let records = try run.records.filter { $0.topic == "test.public.items" }
        // The update streamed inside the window; the chunk's copy of row 2 is dropped whether
        // the SELECT saw the update or not.
        #expect(records.filter { $0.id == 2 }.map(\.op) == ["u"])
        #expect(try run.reads.map(\.id) == [1, 3, 4, 5, 6])
        #expect(SnapshotLog.finalState(records) == run.database.rows)
    }

    @Test func aDeleteInsideTheWindowDropsTheRowRead() throws {
        let run = Run(rows: Self.rows(1...6))
        // The SELECT saw row 5; the delete commits before the high watermark: emitting the row
        // read after the delete would bring it back.
        run.database.during[0] = [.afterSelect: [.delete(5)], .afterHigh: [.upsert(3, "after the window")]]
        try run.run(chunkSize: 10)
        let records = try run.records.filter { $0.topic == "test.public.items" }
        #expect(records.filter { $0.id == 5 }.map(\.op) == ["d"])
        // A change after the high watermark follows the row read: both are in the history.
        #expect(records.filter { $0.id == 3 }.map(\.op) == ["r", "u"])
        #expect(SnapshotLog.finalState(records) == run.database.rows)
    }

    @Test func changesBeforeTheLowWatermarkAreInTheRowsRead() throws {
        let run = Run(rows: Self.rows(1...6))
        run.database.during[1] = [.beforeLow: [.upsert(5, "before"), .delete(6), .upsert(7, "new")]]
        try run.run(chunkSize: 3)
        let records = try run.records.filter { $0.topic == "test.public.items" }
        #expect(records.filter { $0.id == 5 }.map(\.op) == ["u", "r"])
        #expect(records.filter { $0.id == 5 }.last?.name == "before")
        #expect(records.filter { $0.id == 6 }.map(\.op) == ["d"])
        #expect(SnapshotLog.finalState(records) == run.database.rows)
    }

    @Test func aTruncateInsideTheWindowEmptiesTheChunk() throws {
        let run = Run(rows: Self.rows(1...6))
        run.database.during[0] = [.afterSelect: [.truncate]]
        try run.run(chunkSize: 4)
        #expect(try run.reads.isEmpty)
        #expect(SnapshotLog.finalState(try run.records) == run.database.rows)
    }

    @Test func aRestartResumesAfterTheLastCommittedChunk() throws {
        let run = Run(rows: Self.rows(1...10))
        // Stop once the third chunk is read: it is in flight (its watermarks in the stream, not
        // yet reached), so the stop commits the first two and drops it.
        let first = try run.run(chunkSize: 3, stop: { _ in run.database.chunksRead >= 3 })
        #expect(first.committed.jobs.first?.after == ["6"])
        #expect(try run.reads.map(\.id) == Array(1...6).map { Optional($0) })
        let readsBefore = run.database.chunksRead
        try run.run(chunkSize: 3)
        // The restart read from after key 6, not from the start; the first run's third read
        // (its watermarks still in the stream) was dropped and read again.
        #expect(run.database.readsAfter[readsBefore...].first == 6)
        let reads = try run.reads
        #expect(reads.map(\.id) == Array(1...10).map { Optional($0) })
        #expect(try run.records.filter { $0.topic == SnapshotCoordinator.controlTopic }.count == 2)
    }

    @Test func requestsForAnotherSlotOrSentAgainAreLeftAlone() throws {
        let run = Run(rows: Self.rows(1...3))
        run.database.message(.request(SnapshotRequest(id: "other", slot: "another pipeline's slot", tables: [])))
        run.database.message(.request(SnapshotRequest(id: "b1", slot: "slot", tables: [SnapshotTestDatabase.name])))
        run.database.message(.request(SnapshotRequest(id: "b1", slot: "slot", tables: [SnapshotTestDatabase.name])))
        try run.run(mode: .never)
        let reads = try run.reads
        #expect(reads.map(\.id) == [1, 2, 3])
        #expect(reads.allSatisfy { $0.headers["outflow.snapshot"] == "b1" })
    }

    @Test func aTableThatCannotBeReadIsSkippedAndTheOthersAreRead() throws {
        let run = Run(rows: Self.rows(1...3))
        // The fake knows only public.items: describing the other fails as a table without a
        // primary key does.
        let snapshots = try run.run(tables: [TableName(schema: "public", name: "keyless"), SnapshotTestDatabase.name])
        #expect(try run.reads.map(\.id) == [1, 2, 3])
        #expect(snapshots.committed.isIdle && snapshots.committed.finished == ["initial"])
    }

    @Test func metricsCountTheRowsRead() throws {
        let factory = TestMetrics()
        let run = Run(rows: Self.rows(1...10))
        run.database.during[1] = [.afterSelect: [.upsert(6, "changed")]]
        // Reads that take a while: groups commit (and progress is reported) while it runs.
        run.database.readCost = (run.clock, .milliseconds(150))
        try run.run(chunkSize: 4, metrics: PipelineMetrics(factory: factory))
        // Row 6 came from the stream, not the chunk.
        #expect(try factory.expectCounter("outflow_snapshot_rows_total").totalValue == 9)
        #expect(try factory.expectGauge("outflow_snapshot_running").lastValue == 0)
        #expect(try factory.expectGauge("outflow_snapshot_running").values.contains(1))
    }

    @Test func initialOnlyStopsOnceTheSnapshotIsCommitted() throws {
        let run = Run(rows: Self.rows(1...5))
        let snapshots = try run.run(mode: .initialOnly, chunkSize: 2, stop: { _ in false })
        #expect(snapshots.finishedInitialOnly)
        #expect(try run.reads.count == 5)
    }
}

@Suite struct SnapshotProgressTests {
    @Test func aCheckpointWithoutSnapshotsKeepsItsFormerBytes() throws {
        let plain = Checkpoint(sourceEnd: LSN(0x1234), stageChanges: ["dedupe": [1, 2, 3]])
        var former: [UInt8] = Array("OFCK".utf8) + [1]
        former += [0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 6] + Array("dedupe".utf8) + [0, 0, 0, 3, 1, 2, 3]
        #expect(plain.encoded() == former)
        #expect(try Checkpoint(decoding: former) == plain)
    }

    @Test func progressRoundTripsInTheCheckpoint() throws {
        var job = SnapshotProgress.Job(id: "backfill-1", tables: [TableName(schema: "public", name: "a"), TableName(schema: "s", name: "b")], filter: "x > 1")
        job.after = ["42", nil]
        job.rows = 4096
        job.chunks = 1
        let checkpoint = Checkpoint(sourceEnd: LSN(7), snapshot: SnapshotProgress(jobs: [job], finished: ["initial"]))
        #expect(try Checkpoint(decoding: checkpoint.encoded()) == checkpoint)
    }

    @Test func damagedProgressIsATypedError() throws {
        let progress = SnapshotProgress(jobs: [.init(id: "a", tables: [])])
        let bytes = Checkpoint(sourceEnd: LSN(7), snapshot: progress).encoded()
        // Cut right before its section, it is a whole checkpoint of the former kind.
        let section = bytes.count - 5 - progress.encoded().count
        #expect(try Checkpoint(decoding: Array(bytes[..<section])) == Checkpoint(sourceEnd: LSN(7)))
        for cut in 1..<bytes.count where cut != section {
            #expect(throws: CheckpointError.self) { try Checkpoint(decoding: Array(bytes[..<cut])) }
        }
        #expect(throws: CheckpointError.self) { try Checkpoint(decoding: Array(bytes[..<section]) + [0x58]) }
    }

    @Test func messagesRoundTrip() throws {
        let messages: [SnapshotMessage] = [
            .request(SnapshotRequest(id: "b", slot: "s", tables: [TableName(schema: "public", name: "t")], filter: "id < 10")),
            .request(SnapshotRequest(id: "initial", slot: "s", tables: [])),
            .watermark(SnapshotWatermark(chunk: "b:0:1", kind: .low, table: TableName(schema: "public", name: "t"))),
        ]
        for message in messages {
            #expect(try SnapshotMessage(prefix: message.prefix, content: Array(message.content.utf8)) == message)
        }
        #expect(try SnapshotMessage(prefix: "outflow.heartbeat", content: Array("".utf8)) == nil)
        #expect(throws: SnapshotMessageError.self) { try SnapshotMessage(prefix: SnapshotMessage.watermarkPrefix, content: Array("{\"kind\":\"middle\"}".utf8)) }
    }
}
