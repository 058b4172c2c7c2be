import BinaryIO
import Foundation
import Testing
@testable import SegmentLog

/// A log with several sealed segments to recompress: transactions committed and aborted over
/// two partitions, plain appends between them, an open transaction at the end; zstd level 1 so
/// that a higher level has something to save.
private struct RecompressibleLog {
    static let tps = [try! TopicPartition(topic: "orders", partition: 0), try! TopicPartition(topic: "orders", partition: 1)]

    static func config() -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = 8 * 1024
        config.indexIntervalBytes = 512
        config.zstdLevel = 1
        config.retentionMilliseconds = nil
        return config
    }

    /// Writes the log; returns the writer, still open (its last transaction too).
    @discardableResult
    static func write(_ path: String, seed: UInt64, transactions: Int = 50, config: LogConfig = config()) throws -> LogWriter {
        let writer = try LogWriter.open(directory: path, config: config)
        var random = SeededGenerator(seed: seed)
        for transaction in 0..<transactions {
            let plain = Int.random(in: 0..<8, using: &random) == 0
            if !plain { try writer.beginTransaction() }
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let tp = tps.randomElement(using: &random)!
                let records = (0..<Int.random(in: 1...40, using: &random)).map { row in
                    let amount = Int.random(in: 1...99_999, using: &random)
                    let value = "{\"event_id\":\"\(transaction)-\(row)\",\"aggregate\":\"order\",\"type\":\"OrderPlaced\",\"amount\":\(amount),\"currency\":\"EUR\",\"note\":\"\(String(repeating: "ab", count: Int.random(in: 0...30, using: &random)))\"}"
                    return Record(
                        key: row % 7 == 3 ? nil : bytes("order-\(Int.random(in: 1...500, using: &random))"),
                        value: row % 11 == 5 ? nil : bytes(value),
                        headers: [RecordHeader(key: SourcePosition.headerKey, text: SourcePosition.format(UInt64(transaction + 1) << 16))],
                        timestamp: 1_780_000_000_000 + Int64(transaction * 50 + row))
                }
                if plain { try writer.appendPlain(records, to: tp) } else { try writer.append(records, to: tp) }
            }
            if plain { try writer.sync() }
            else if Int.random(in: 0..<5, using: &random) == 0 { try writer.abort() }
            else { try writer.commit(metadata: Array("\(transaction)".utf8)) }
        }
        try writer.beginTransaction()
        try writer.append([Record(value: bytes("still open"), timestamp: 1_790_000_000_000)], to: tps[0])
        return writer
    }

    /// Every sealed segment of every partition recompressed now, on this thread.
    static func recompressSealed(
        _ path: String, level: Int32 = 19,
        exclusively: (() throws(SegmentLogError) -> Void) throws(SegmentLogError) -> Void = { body throws(SegmentLogError) in try body() }
    ) throws -> [SegmentRecompression.Outcome] {
        var outcomes: [SegmentRecompression.Outcome] = []
        for tp in try LogReader(directory: path).partitions() {
            let directory = SegmentDirectory(path: path + "/" + tp.directoryName)
            for base in try directory.baseOffsets().dropLast() {
                let job = SegmentRecompression(files: directory.files(base), level: level, indexInterval: 512, limits: .default)
                outcomes.append(try job.run(afterBatch: { _ in true }, exclusively: exclusively))
            }
        }
        return outcomes
    }
}

/// What every reader of a partition sees: the records at both isolation levels, the stored
/// batches' headers but for length and CRC (offsets, timestamps, producer, flags), the aborted
/// transactions a Kafka Fetch would carry.
private struct ReaderView: Equatable {
    struct BatchShape: Hashable {
        var header: BatchHeader
        init(_ batch: RecordBatch) {
            header = batch.header
            header.batchLength = 0
            header.crc = 0
        }
    }

    var committed: [String: [StoredRecord]] = [:]
    var uncommitted: [String: [StoredRecord]] = [:]
    var batches: [String: [BatchShape]] = [:]
    var aborted: [String: [AbortedTransaction]] = [:]

    init(_ path: String) throws {
        let log = try LogReader(directory: path)
        for tp in try log.partitions() {
            for isolation in [IsolationLevel.readCommitted, .readUncommitted] {
                let reader = try log.open(tp, isolation: isolation)
                var records: [StoredRecord] = []
                while case let polled = try reader.poll(maxRecords: 97), !polled.isEmpty { records += polled }
                if isolation == .readCommitted { committed[tp.directoryName] = records } else { uncommitted[tp.directoryName] = records }
            }
            let fetched = try log.open(tp, isolation: .readCommitted).fetch(from: 0, maxBytes: .max)
            batches[tp.directoryName] = fetched.batches.map(BatchShape.init)
            aborted[tp.directoryName] = fetched.abortedTransactions
        }
    }
}

private func sealedBytes(_ path: String) throws -> Int64 {
    var total: Int64 = 0
    for tp in try LogReader(directory: path).partitions() {
        let directory = SegmentDirectory(path: path + "/" + tp.directoryName)
        for base in try directory.baseOffsets().dropLast() { total += try fileSize(directory.files(base).log) }
    }
    return total
}

@Suite struct RecompressionTests {
    /// The property: whatever the log holds, recompressing its sealed segments changes nothing
    /// any reader sees at either isolation level, nor any batch header but length and CRC.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func recompressionNeverChangesWhatAReaderSees(seed: UInt64) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try RecompressibleLog.write(dir.path, seed: seed)
        defer { writer.close() }
        let before = try ReaderView(dir.path)
        let bytesBefore = try sealedBytes(dir.path)
        let outcomes = try RecompressibleLog.recompressSealed(dir.path)
        #expect(outcomes.count > 4, "the workload should seal several segments")
        #expect(outcomes.contains { if case .swapped = $0 { true } else { false } })
        #expect(try sealedBytes(dir.path) < bytesBefore)
        #expect(try ReaderView(dir.path) == before)
        let report = try LogVerifier.verify(directory: dir.path)
        #expect(report.errors.isEmpty, "\(report.errors)")
        // Done once: a second pass finds the markers and keeps every segment.
        #expect(try RecompressibleLog.recompressSealed(dir.path).allSatisfy { $0 == .alreadyDone })
    }

    @Test func batchesKeepEveryHeaderFieldButLengthAndCRC() throws {
        let records = (0..<200).map { Record(key: bytes("k\($0 % 9)"), value: bytes("{\"n\":\($0),\"text\":\"\(String(repeating: "xy", count: $0 % 13))\"}"), timestamp: 1_000 + Int64($0)) }
        let original = try BatchCodec.encode(
            records, baseOffset: 4242, producer: ProducerIdentity(producerId: 7, epoch: 3), baseSequence: 99, transactional: true,
            compression: .zstd, zstdLevel: 1, partitionLeaderEpoch: 5)
        let batch = try BatchCodec.decodeBatch(original)
        let rewritten = try BatchCodec.decodeBatch(try BatchCodec.recompressed(batch, level: 19, limits: .default))
        #expect(rewritten.bytes.count < original.count)
        var expected = batch.header
        expected.batchLength = rewritten.header.batchLength
        expected.crc = rewritten.header.crc
        #expect(rewritten.header == expected)
        #expect(try rewritten.records(limits: .default) == (try batch.records(limits: .default)))
        let marker = BatchCodec.encodeControl(.commit, baseOffset: 9, producer: ProducerIdentity(producerId: 7, epoch: 3), timestamp: 5)
        #expect(try BatchCodec.recompressed(try BatchCodec.decodeBatch(marker), level: 19, limits: .default) == marker)
        let plain = try BatchCodec.encode(records, baseOffset: 0, compression: .none)
        #expect(try BatchCodec.recompressed(try BatchCodec.decodeBatch(plain), level: 19, limits: .default) == plain)
    }

    /// A reader in the middle of a sealed segment when it is swapped goes on in the old file it
    /// holds (its inode lives on); a seek after the swap reads the new file. Nothing is missed
    /// or repeated.
    @Test(arguments: [IsolationLevel.readCommitted, .readUncommitted])
    func aReaderActiveAcrossASwapReadsEveryRecordOnce(isolation: IsolationLevel) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try RecompressibleLog.write(dir.path, seed: 11)
        defer { writer.close() }
        let expected = try ReaderView(dir.path)
        let tp = RecompressibleLog.tps[0]
        do {
            let reader = try LogReader(directory: dir.path).open(tp, isolation: isolation)
            var seen = try reader.poll(maxRecords: 5)
            let heldFile = dir.file(tp.directoryName, SegmentFileName.name(0, "log"))
            let identityBefore = FileIO.identity(atPath: heldFile)
            _ = try RecompressibleLog.recompressSealed(dir.path)
            #expect(FileIO.identity(atPath: heldFile) != identityBefore, "the first segment was swapped")
            while case let polled = try reader.poll(maxRecords: 7), !polled.isEmpty { seen += polled }
            let all = isolation == .readCommitted ? expected.committed[tp.directoryName] : expected.uncommitted[tp.directoryName]
            #expect(seen == all)
            // Seeks after the swap, into every sealed segment, through the new index.
            for record in try #require(all).filter({ $0.offset % 17 == 0 }) {
                try reader.seek(toOffset: record.offset)
                #expect(try reader.poll(maxRecords: 1).first == record)
            }
        }
    }

    /// The swap renames the `.log` and then the `.index`; in between (or for a reader that
    /// opened one before and read the other after) a segment's log and index come from different
    /// files. Both mixes must still seek to the right record.
    @Test func aLogAndAnIndexFromDifferentFilesNeverMisleadASeek() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try RecompressibleLog.write(dir.path, seed: 12)
        defer { writer.close() }
        let tp = RecompressibleLog.tps[1]
        let expected = try #require(try ReaderView(dir.path).uncommitted[tp.directoryName])
        let files = SegmentDirectory(path: dir.file(tp.directoryName)).files(0)
        let oldLog = try #require(try FileIO.readFile(files.log)), oldIndex = try #require(try FileIO.readFile(files.path(OffsetIndex.suffix)))
        _ = try RecompressibleLog.recompressSealed(dir.path)
        let newLog = try #require(try FileIO.readFile(files.log)), newIndex = try #require(try FileIO.readFile(files.path(OffsetIndex.suffix)))
        #expect(newLog.count < oldLog.count && !oldIndex.isEmpty && !newIndex.isEmpty)
        let secondSegment = try SegmentDirectory(path: dir.file(tp.directoryName)).baseOffsets()[1]
        for (log, index) in [(newLog, oldIndex), (oldLog, newIndex)] {
            try FileIO.writeAtomically(files.log, log)
            try FileIO.writeAtomically(files.path(OffsetIndex.suffix), index)
            let reader = try LogReader(directory: dir.path).open(tp, isolation: .readUncommitted)
            for record in expected where record.offset < secondSegment {
                try reader.seek(toOffset: record.offset)
                #expect(try reader.poll(maxRecords: 1).first == record)
            }
        }
    }

    /// A crash in the swap: before the `.log` rename the new files are discarded and the old
    /// segment stands; after it the new `.index` is put in place. Either way the next open
    /// leaves a healthy log that reads as before.
    @Test(arguments: [false, true])
    func openFinishesOrDiscardsASwapCutShort(logWasSwapped: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var writer: LogWriter? = try RecompressibleLog.write(dir.path, seed: 13)
        try writer!.abort()
        let expected = try ReaderView(dir.path)
        let tp = RecompressibleLog.tps[0]
        let files = SegmentDirectory(path: dir.file(tp.directoryName)).files(0)
        let oldLog = try #require(try FileIO.readFile(files.log))
        // Keep the new files as the swap would have found them, then let the job stop there.
        let kept = dir.file("kept")
        try FileIO.createDirectory(kept)
        let job = SegmentRecompression(files: files, level: 19, indexInterval: 512, limits: .default)
        let outcome = try job.run(afterBatch: { _ in true }, exclusively: { _ throws(SegmentLogError) in
            try FileIO.writeAtomically(kept + "/log", try FileIO.readFile(files.path(RecompressionFiles.newLogSuffix))!)
            try FileIO.writeAtomically(kept + "/index", try FileIO.readFile(files.path(RecompressionFiles.newIndexSuffix))!)
        })
        #expect(outcome == .gone)
        #expect(!FileIO.exists(files.path(RecompressionFiles.newLogSuffix)) && !FileIO.exists(files.path(RecompressionFiles.newIndexSuffix)))
        writer!.close()
        writer = nil
        try FileIO.writeAtomically(logWasSwapped ? files.log : files.path(RecompressionFiles.newLogSuffix), try FileIO.readFile(kept + "/log")!)
        try FileIO.writeAtomically(files.path(RecompressionFiles.newIndexSuffix), try FileIO.readFile(kept + "/index")!)
        let reopened = try LogWriter.open(directory: dir.path, config: RecompressibleLog.config())
        reopened.close()
        #expect(!FileIO.exists(files.path(RecompressionFiles.newLogSuffix)) && !FileIO.exists(files.path(RecompressionFiles.newIndexSuffix)))
        #expect((try FileIO.readFile(files.log)!.count < oldLog.count) == logWasSwapped)
        if logWasSwapped { #expect(try FileIO.readFile(files.path(OffsetIndex.suffix)) == (try FileIO.readFile(kept + "/index"))) }
        let report = try LogVerifier.verify(directory: dir.path)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(try ReaderView(dir.path) == expected)
    }

    /// Retention deletes a segment while it is being recompressed: the swap must not bring it back.
    @Test func aSegmentRetentionDeletedMeanwhileIsNotBroughtBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try RecompressibleLog.write(dir.path, seed: 14)
        defer { writer.close() }
        let files = SegmentDirectory(path: dir.file(RecompressibleLog.tps[0].directoryName)).files(0)
        let job = SegmentRecompression(files: files, level: 19, indexInterval: 512, limits: .default)
        let outcome = try job.run(afterBatch: { _ in true }, exclusively: { body throws(SegmentLogError) in
            try FileIO.remove(files.log)
            try body()
        })
        #expect(outcome == .gone)
        let left = try FileIO.listDirectory(files.directory).filter { $0.hasPrefix(SegmentFileName.name(0, "")) }
        #expect(!left.contains { $0.hasSuffix(".log") || $0.contains("recompress") }, "\(left)")
    }

    /// The writer's background thread recompresses what rolls, after retention looked; a
    /// writer opened again skips what is done.
    @Test func theWritersBackgroundThreadRecompressesSealedSegments() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = RecompressibleLog.config()
        config.recompression = RecompressionSettings(level: 19, cpuShare: 1)
        let writer = try RecompressibleLog.write(dir.path, seed: 15, config: config)
        try writer.abort()
        // Retention passes offer what they keep; this one offers what the last appends sealed.
        try writer.enforceRetention()
        let expected = try ReaderView(dir.path)
        let recompressor = try #require(writer.recompressor)
        #expect(recompressor.waitUntilIdle(timeout: .seconds(120)))
        let done = recompressor.statistics
        #expect(done.segmentsRecompressed > 0 && done.failures == 0)
        #expect(done.storedBytes < done.originalBytes)
        #expect(try ReaderView(dir.path) == expected)
        #expect(writer.closeCleanly())
        let reopened = try LogWriter.open(directory: dir.path, config: config)
        defer { reopened.close() }
        let again = try #require(reopened.recompressor)
        #expect(again.waitUntilIdle(timeout: .seconds(120)))
        #expect(again.statistics.segmentsRecompressed == 0 && again.statistics.segmentsKept >= done.segmentsRecompressed)
        let report = try LogVerifier.verify(directory: dir.path)
        #expect(report.errors.isEmpty, "\(report.errors)")
    }

    /// kafka-python reads the recompressed segments and delivers the same records at both
    /// isolation levels as before (the index checks of the oracle pass too).
    @Test func kafkaPythonReadsRecompressedSegmentsAsBefore() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try RecompressibleLog.write(dir.path, seed: 16)
        try writer.abort()
        writer.close()
        let before = try #require(try Oracle.run("read_log.py", [dir.path]) as? [String: Any])
        _ = try RecompressibleLog.recompressSealed(dir.path)
        let after = try #require(try Oracle.run("read_log.py", [dir.path]) as? [String: Any])
        #expect((after["errors"] as? [String])?.isEmpty == true, "\(after["errors"] ?? "")")
        let partitionsBefore = try #require(before["partitions"] as? [String: [String: Any]])
        let partitionsAfter = try #require(after["partitions"] as? [String: [String: Any]])
        #expect(Set(partitionsAfter.keys) == Set(partitionsBefore.keys))
        for (name, partition) in partitionsBefore {
            for key in ["read_committed", "read_uncommitted"] {
                let old = try #require(partition[key] as? [[String: Any]]).map(ComparableRecord.init(json:))
                let new = try #require(partitionsAfter[name]?[key] as? [[String: Any]]).map(ComparableRecord.init(json:))
                #expect(!old.isEmpty && new == old, "\(name) \(key)")
            }
            let sizes = { (p: [String: Any]) in ((p["segments"] as? [[String: Any]]) ?? []).compactMap { $0["size"] as? Int } }
            #expect(sizes(partitionsAfter[name]!).reduce(0, +) < sizes(partition).reduce(0, +))
        }
    }

    @Test func theQueueTakesEachSealedSegmentOnceAndForgetsDeletedOnes() {
        var queue = RecompressionQueue()
        var queued = queue.offer(partition: "p", sealed: [0, 100])
        #expect(queued)
        queued = queue.offer(partition: "p", sealed: [0, 100])
        #expect(!queued)
        var taken = queue.take()
        #expect(taken == .init(partition: "p", baseOffset: 0))
        taken = queue.take()
        #expect(taken == nil, "one at a time")
        queue.finished()
        // Retention deleted 100 before it ran; 200 was sealed since.
        queued = queue.offer(partition: "p", sealed: [200])
        #expect(queued)
        taken = queue.take()
        #expect(taken == .init(partition: "p", baseOffset: 200))
        queue.finished()
        #expect(queue.isIdle)
        queued = queue.offer(partition: "p", sealed: [200])
        #expect(!queued)
        queue.stop()
        queued = queue.offer(partition: "q", sealed: [0])
        taken = queue.take()
        #expect(!queued && taken == nil)
    }

    @Test func pacingKeepsWorkToItsShareOfTime() {
        #expect(RecompressionPacing(cpuShare: 0.5).pause(after: .milliseconds(100)) == .milliseconds(100))
        #expect(RecompressionPacing(cpuShare: 0.25).pause(after: .milliseconds(100)) == .milliseconds(300))
        #expect(RecompressionPacing(cpuShare: 1).pause(after: .milliseconds(100)) == .zero)
    }

    @Test func theMarkerReadsBackAndDamageMeansNotDone() {
        let marker = RecompressionMarker(level: 19, originalBytes: 1000, storedBytes: 700)
        #expect(RecompressionMarker.decode(marker.encoded()) == marker)
        #expect(RecompressionMarker.decode(Array("level=19 original=".utf8)) == nil)
        #expect(RecompressionMarker.decode([0xFF, 0x00]) == nil)
        #expect(SwapRecovery.decide(newLogExists: true, newIndexExists: true) == .discardNewFiles)
        #expect(SwapRecovery.decide(newLogExists: true, newIndexExists: false) == .discardNewFiles)
        #expect(SwapRecovery.decide(newLogExists: false, newIndexExists: true) == .finishIndexSwap)
        #expect(SwapRecovery.decide(newLogExists: false, newIndexExists: false) == .nothing)
    }
}
