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
            mode: SnapshotMode = .initial, chunkSize: Int = 4, readers: Int = 1, tables: [TableName] = [SnapshotTestDatabase.name],
            metrics: PipelineMetrics? = nil, observe: ((SnapshotCoordinator) -> Void)? = nil, stop: ((SnapshotCoordinator) -> Bool)? = nil
        ) throws -> SnapshotCoordinator {
            let writer = try LogWriter.open(directory: directory)
            defer { writer.close() }
            var settings = SnapshotCoordinator.Settings(slot: "slot", tables: tables)
            settings.mode = mode
            settings.chunkSize = chunkSize
            settings.readers = readers
            let snapshots = SnapshotCoordinator(settings: settings, reader: database)
            let runner = try PipelineRunner(
                graph: try CompiledStageGraph(stages: [], wiring: []), writer: writer,
                settings: PipelineRunner.Settings(pipelineName: "test", deadLetterTopic: "test.dead-letter"), clock: clock, snapshots: snapshots)
            let source = StreamSource(database, clock: clock, from: consumed)
            let deadline = clock.now.advanced(by: .seconds(600))
            try runner.run(source: source, shouldStop: {
                if clock.now >= deadline { return true }
                observe?(snapshots)
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
        // Stop once the third chunk is read: chunks are in flight (their watermarks in the
        // stream, not yet reached), so the stop commits what was merged and drops them.
        let first = try run.run(chunkSize: 3, stop: { _ in run.database.chunksRead >= 3 })
        let range = try #require(first.committed.jobs.first?.ranges.first)
        let committedThrough = try #require(range.after?.first.flatMap { $0.flatMap { Int($0) } })
        #expect(try run.reads.map(\.id) == Array(1...committedThrough).map { Optional($0) })
        let readsBefore = run.database.chunksRead
        try run.run(chunkSize: 3)
        // The restart read from after the last committed key, not from the start; the first
        // run's reads in flight (their watermarks still in the stream) were dropped and read again.
        #expect(run.database.readsAfter[readsBefore...].first == committedThrough)
        let reads = try run.reads
        #expect(reads.map(\.id) == Array(1...10).map { Optional($0) })
        #expect(try run.records.filter { $0.topic == SnapshotCoordinator.controlTopic }.count == 2)
    }

    @Test func aReaderReadsAheadOfTheStreamWithABoundedNumberOfChunks() throws {
        let run = Run(rows: Self.rows(1...40))
        var mostAhead = 0
        let snapshots = try run.run(chunkSize: 4, readers: 2, observe: { snapshots in
            mostAhead = max(mostAhead, run.database.chunksRead - snapshots.chunksMerged)
        })
        // The next chunk is read before the previous one's high watermark came back…
        #expect(mostAhead > 1)
        // …but never more than two per reader.
        #expect(mostAhead <= 4)
        #expect(snapshots.chunksMerged == run.database.chunksRead)
        #expect(try run.reads.count == 40)
    }

    @Test(arguments: [2, 3, 5])
    func parallelReadersReadDisjointRangesAndEveryRowOnce(readers: Int) throws {
        let run = Run(rows: Self.rows(1...50))
        // Writes inside the windows of chunks of different readers.
        run.database.during[1] = [.afterSelect: [.upsert(3, "changed"), .delete(30)]]
        run.database.during[4] = [.afterLow: [.upsert(45, "changed"), .upsert(51, "new")], .afterHigh: [.upsert(20, "later")]]
        try run.run(chunkSize: 4, readers: readers)
        let records = try run.records.filter { $0.topic == "test.public.items" }
        let readIDs = try run.reads.compactMap(\.id)
        #expect(Set(readIDs).count == readIDs.count, "a row was read twice")
        #expect(SnapshotLog.finalState(records) == run.database.rows)
        // Every row never written during the snapshot was read.
        #expect(Set(readIDs).isSuperset(of: Set(1...50).subtracting([3, 30, 45])))
        // The ranges' bounds: every read stays inside one range, and the ranges do not overlap.
        let ranges = Set(run.database.reads.map { $0.through })
        #expect(ranges.count == readers)
        // (a range read to its bound in whole chunks ends with an empty read after its last key)
        for read in run.database.reads { #expect((read.after ?? .min) <= (read.through ?? .max)) }
        // The reads of different ranges interleave in the log.
        #expect(readIDs != readIDs.sorted())
        #expect(try run.records.filter { $0.topic == SnapshotCoordinator.controlTopic }.count == 2)
        #expect(try run.reads.last?.snapshotMark == "last")
    }

    @Test func aRestartWithParallelReadersResumesEachRangeAfterItsCommittedKey() throws {
        let run = Run(rows: Self.rows(1...60))
        let first = try run.run(chunkSize: 4, readers: 3, stop: { _ in run.database.chunksRead >= 8 })
        let ranges = try #require(first.committed.jobs.first?.ranges)
        #expect(ranges.count == 3)
        let committedReads = try run.reads.count
        #expect(committedReads > 0 && committedReads < 60)
        let readsBefore = run.database.chunksRead
        try run.run(chunkSize: 4, readers: 3)
        // Each range went on from its committed key (or its start, when nothing of it was committed).
        let resumed = Set(run.database.reads[readsBefore...].prefix(3).map(\.after))
        let committed = Set(ranges.map { $0.after?.first.flatMap { $0.flatMap { Int($0) } } })
        #expect(resumed.isSubset(of: committed))
        let reads = try run.reads.compactMap(\.id)
        #expect(reads.sorted() == Array(1...60))
        #expect(try run.records.filter { $0.topic == SnapshotCoordinator.controlTopic }.count == 2)
    }

    @Test func aChangeWithoutItsKeyMakesTheChunksInFlightBeReadAgain() throws {
        let run = Run(rows: Self.rows(1...20))
        // An update whose key was not sent, inside the first chunk's window: that chunk and
        // the ones read after it are read again, and no row is lost or read twice.
        run.database.during[0] = [.afterSelect: [.updateWithoutKey(2, "changed")]]
        let snapshots = try run.run(chunkSize: 4, readers: 2)
        #expect(snapshots.restarts >= 1)
        let reads = try run.reads.compactMap(\.id)
        #expect(reads.sorted() == Array(1...20))
        // The read again took the change: row 2's read is the changed row.
        #expect(try run.reads.first { $0.id == 2 }?.name == "changed")
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
        job.ranges = [.init(after: ["42", nil], through: ["100", "x"]), .init(after: ["100", "x"], through: nil, done: true)]
        job.rows = 4096
        job.chunks = 1
        let checkpoint = Checkpoint(sourceEnd: LSN(7), snapshot: SnapshotProgress(jobs: [job], finished: ["initial"]))
        #expect(try Checkpoint(decoding: checkpoint.encoded()) == checkpoint)
    }

    @Test func progressOfTheFormerVersionIsOneRange() throws {
        // Version 1: a job "a" of table public.t, no filter, read up to key 42, 10 rows, 1 chunk.
        var bytes: [UInt8] = [1, 0, 0, 0, 1, 0, 0, 0, 1] + Array("a".utf8) + [0, 0, 0, 1]
        bytes += [0, 0, 0, 6] + Array("public".utf8) + [0, 0, 0, 1] + Array("t".utf8) + [0]
        bytes += [1, 0, 0, 0, 1, 1, 0, 0, 0, 2] + Array("42".utf8)
        bytes += [0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
        let progress = try SnapshotProgress(decoding: bytes)
        #expect(progress.jobs.first?.ranges == [.init(after: ["42"], through: nil)])
        #expect(progress.jobs.first?.rows == 10)
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
