import BinaryIO
import Foundation
import Logging
import Testing
@testable import SegmentLog

@Suite struct RecoveryTests {
    let orders = try! TopicPartition(topic: "orders", partition: 0)
    let payments = try! TopicPartition(topic: "payments", partition: 1)

    @Test func tornTailIsTruncatedAndAnOpenTransactionAborted() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        try writer.append([record("kept")], to: orders)
        try writer.commit(metadata: [1])
        let log = dir.file("orders-0", "00000000000000000000.log")
        let committedSize = try fileSize(log)
        try writer.beginTransaction()
        try writer.append([record("open-1")], to: orders)
        let afterFirstOpen = try fileSize(log)
        try writer.append([record("torn")], to: orders)
        writer.close()  // a crash: no commit, no abort
        try truncateFile(log, to: try fileSize(log) - 7)

        let reopened = try LogWriter.open(directory: dir.path)
        // The torn batch is gone; the whole open batch stays, closed by an ABORT marker.
        #expect(try fileSize(log) == afterFirstOpen + 78)
        #expect(try readAll(dir.path, orders) == ["kept"])
        #expect(try readAll(dir.path, orders, isolation: .readUncommitted) == ["kept", "open-1"])
        let aborted = try TxnIndex.decode(try #require(try FileIO.readFile(dir.file("orders-0", "00000000000000000000.txnindex"))))
        #expect(aborted.count == 1)
        #expect(aborted.first?.firstOffset == 2)
        #expect(committedSize < afterFirstOpen)
        #expect(reopened.lastCommittedMetadata == [1])
        reopened.close()
    }

    /// Opening a log rebuilds its active segment's indexes while readers may be following
    /// it. `.txnindex` is what tells them an ABORT marker's transaction from a committed one,
    /// so it is never emptied on the way: the rebuild writes the same entries over it and only
    /// then cuts off what it did not write again (an entry whose marker a crash left unwritten).
    @Test func reopeningKeepsTheAbortedIndexReadableWhileRebuildingIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        for index in 0..<6 {
            try writer.beginTransaction()
            try writer.append([record("r\(index)")], to: orders)
            if index % 2 == 0 { try writer.abort() } else { try writer.commit(metadata: []) }
        }
        writer.close()
        let files = SegmentFiles(directory: dir.file("orders-0"), baseOffset: 0)
        let index = files.path(TxnIndex.suffix)
        let written = try #require(try FileIO.readFile(index))
        #expect(written.count == 3 * AbortedTransaction.size)
        // As a crash between an ABORT's entry and its marker leaves it: one entry too many.
        let stale = AbortedTransaction(producerId: 99, firstOffset: 100, lastOffset: 101, lastStableOffset: 100)
        try FileIO.writeAtomically(index, written + stale.encoded())

        let segment = try Segment(files: files, indexInterval: 4096, lsnIndexInterval: 1 << 18, rebuilding: true)
        #expect(try FileIO.readFile(index) == written + stale.encoded())  // what a reader sees meanwhile
        var producers: [Int64: ProducerEntry] = [:]
        try PartitionLog.replay(segment, producers: &producers, limits: .default, allowTornTail: true, logger: Logger(label: "test"))
        #expect(try FileIO.readFile(index) == written + stale.encoded())
        try segment.finishRebuild()
        #expect(try FileIO.readFile(index) == written)

        let reopened = try LogWriter.open(directory: dir.path)
        #expect(try FileIO.readFile(index) == written)
        #expect(try readAll(dir.path, orders) == ["r1", "r3", "r5"])
        reopened.close()
    }

    @Test func commitRecordWithoutMarkersIsCompletedOnOpen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        try writer.append([record("o1"), record("o2")], to: orders)
        try writer.append([record("p1")], to: payments)
        try writer.commit(metadata: bytes("meta"))
        writer.close()
        // A crash right after the commit point: the (unsynced) COMMIT markers never reached disk.
        for tp in ["orders-0", "payments-1"] {
            let log = dir.file(tp, "00000000000000000000.log")
            try truncateFile(log, to: try fileSize(log) - 78)
        }
        #expect(try readAll(dir.path, orders).isEmpty)
        let reopened = try LogWriter.open(directory: dir.path)
        #expect(try readAll(dir.path, orders) == ["o1", "o2"])
        #expect(try readAll(dir.path, payments) == ["p1"])
        #expect(reopened.lastCommittedMetadata == bytes("meta"))
        reopened.close()
    }

    @Test func damageFollowedByValidDataIsAnErrorNamingFileAndPosition() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        for index in 0..<3 {
            try writer.beginTransaction()
            try writer.append([record("v\(index)")], to: orders)
            try writer.commit(metadata: [])
        }
        writer.close()
        let log = dir.file("orders-0", "00000000000000000000.log")
        let secondBatch = Int64(try BatchHeader.parse(try #require(try FileIO.readFile(log))).sizeInBytes) + 78
        try patchFile(log, at: secondBatch + 40, xor: 0x01)
        do {
            _ = try LogWriter.open(directory: dir.path)
            Issue.record("opening a log with a damaged middle must fail")
        } catch {
            #expect(error.code == .corruptSegment)
            #expect(error.path?.hasSuffix("orders-0/00000000000000000000.log") == true)
            #expect(error.position == secondBatch)
            #expect(error.description.contains("00000000000000000000.log"))
        }
        #expect { try readAll(dir.path, orders) } throws: { error in
            let error = error as? SegmentLogError
            return error?.code == .corruptSegment && error?.position == secondBatch
        }
        // Nothing was truncated.
        #expect(try FileIO.readFile(log)?.count == 3 * Int(secondBatch))
    }

    @Test func missingAndDamagedIndexesAreRebuiltIdentically() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = LogConfig()
        config.segmentBytes = 1500
        config.indexIntervalBytes = 100
        let writer = try LogWriter.open(directory: dir.path, config: config)
        for index in 0..<60 {
            try writer.beginTransaction()
            try writer.append([record("value-\(index)", lsn: UInt64(100 + index), timestamp: 1_000 + Int64(index))], to: orders)
            if index % 7 == 3 { try writer.abort() } else { try writer.commit(metadata: []) }
        }
        writer.close()
        let partition = dir.file("orders-0")
        let indexFiles = try FileManager.default.contentsOfDirectory(atPath: partition)
            .filter { [".index", ".timeindex", ".lsnindex", ".txnindex"].contains(where: $0.hasSuffix) }.sorted()
        let original = try Dictionary(uniqueKeysWithValues: indexFiles.map { ($0, try #require(try FileIO.readFile(partition + "/" + $0))) })
        let logs = try segmentLogs(partition)
        #expect(logs.count >= 4)
        #expect(original.values.contains { !$0.isEmpty })
        let before = try readAll(dir.path, orders)
        let sealed = logs[1].replacingOccurrences(of: ".log", with: "")
        try FileManager.default.removeItem(atPath: sealed + ".index")
        try truncateFile(logs[2].replacingOccurrences(of: ".log", with: ".timeindex"), to: 5)
        try FileManager.default.removeItem(atPath: logs[0].replacingOccurrences(of: ".log", with: ".txnindex"))
        try FileManager.default.removeItem(atPath: logs.last!.replacingOccurrences(of: ".log", with: ".lsnindex"))
        try LogWriter.open(directory: dir.path, config: config).close()
        for name in indexFiles {
            #expect(try FileIO.readFile(partition + "/" + name) == original[name], "\(name) differs after rebuild")
        }
        #expect(try readAll(dir.path, orders) == before)
        #expect(before.count == 60 - 9)
    }

    @Test func segmentsRollBySizeAndAgeAndRetentionDeletesWholeOldSegments() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(1_000_000)
        var config = LogConfig()
        config.segmentBytes = 1000
        config.segmentMilliseconds = 60_000
        config.retentionMilliseconds = 3_600_000
        config.retentionBytes = nil
        config.clock = { clock.now }
        let writer = try LogWriter.open(directory: dir.path, config: config)
        func write(_ count: Int, _ label: String) throws {
            for index in 0..<count {
                try writer.beginTransaction()
                try writer.append([record("\(label)\(index)", timestamp: clock.now)], to: orders)
                try writer.commit(metadata: [])
            }
        }
        try write(20, "old")
        let partition = dir.file("orders-0")
        let afterSize = try segmentLogs(partition)
        #expect(afterSize.count > 2)
        for log in afterSize.dropLast() { #expect(try fileSize(log) <= 1000) }
        // Age: one more batch after the segment is a minute old starts a new segment.
        clock.advance(by: 61_000)
        try write(1, "aged")
        let afterAge = try segmentLogs(partition)
        #expect(afterAge.count == afterSize.count + 1)
        // Retention by time: everything but the newest segments expires.
        clock.advance(by: 2 * 3_600_000)
        try write(1, "new")
        try writer.enforceRetention()
        let remaining = try segmentLogs(partition)
        #expect(remaining.count < afterAge.count)
        let reader = try LogReader(directory: dir.path).open(orders)
        #expect(try reader.logStartOffset() > 0)
        let values = try readAll(dir.path, orders)
        #expect(values.last == "new0")
        #expect(!values.contains("old0"))
        // Only whole segments go, never the active one, and leftovers are all gone.
        let names = try FileManager.default.contentsOfDirectory(atPath: partition)
        let bases = Set(remaining.map { ($0 as NSString).lastPathComponent.prefix(20) })
        #expect(names.allSatisfy { bases.contains($0.prefix(20)) })
        writer.close()
    }

    @Test func retentionBySizeKeepsThePartitionUnderTheBound() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = LogConfig()
        config.segmentBytes = 800
        config.retentionMilliseconds = nil
        config.retentionBytes = 2500
        let writer = try LogWriter.open(directory: dir.path, config: config)
        for index in 0..<60 {
            try writer.beginTransaction()
            try writer.append([record("value-\(index)")], to: orders)
            try writer.commit(metadata: [])
        }
        try writer.enforceRetention()
        let logs = try segmentLogs(dir.file("orders-0"))
        let total = try logs.reduce(Int64(0)) { $0 + (try fileSize($1)) }
        #expect(total <= 2500)
        #expect(total + 800 > 2500)  // it deleted no more than needed
        #expect(try readAll(dir.path, orders).last == "value-59")
        writer.close()
    }

    @Test func aReaderWhoseSegmentsRetentionDeletesGoesOnFromTheLogStart() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = LogConfig()
        config.segmentBytes = 600
        config.retentionMilliseconds = nil
        config.retentionBytes = 1800
        let writer = try LogWriter.open(directory: dir.path, config: config)
        defer { writer.close() }
        func write(_ range: Range<Int>) throws {
            for index in range {
                try writer.beginTransaction()
                try writer.append([record("value-\(index)")], to: orders)
                try writer.commit(metadata: [])
            }
        }
        try write(0..<10)
        let reader = try LogReader(directory: dir.path).open(orders)
        var delivered: [Int64] = []
        var restarts = 0
        // A slow reader: one record a poll, while the writer rolls and deletes the segments it
        // is reading. It must never crash nor go backwards: it reads on from the file it holds,
        // and a position retention took away moves it to the log start (a segment deleted
        // between listing and opening it may be a typed error once; the next poll goes on).
        for round in 0..<40 {
            if round % 2 == 0 { try write((10 + round * 3)..<(13 + round * 3)) }
            do throws(SegmentLogError) {
                let records = try reader.poll(maxRecords: 1)
                for stored in records {
                    #expect(stored.offset > (delivered.last ?? -1), "offsets go forward only")
                    delivered.append(stored.offset)
                }
            } catch {
                #expect(error.code == .io, "\(error.code): \(error)")
                restarts += 1
            }
        }
        while case let records = try reader.poll(maxRecords: 100), !records.isEmpty {
            for stored in records {
                #expect(stored.offset > (delivered.last ?? -1))
                delivered.append(stored.offset)
            }
        }
        // Retention ran under the reader, and the reader reached the end of what is left.
        #expect(try reader.logStartOffset() > 0)
        #expect(restarts <= 2)
        #expect(delivered.last == (try reader.endOffset()) - 2, "the last record (before its COMMIT marker)")
        // What it skipped is only what retention deleted before it got there.
        let start = try reader.logStartOffset()
        #expect(Set(delivered.filter { $0 >= start }) == Set(try readAllOffsets(dir.path)))
    }

    func readAllOffsets(_ directory: String) throws -> [Int64] {
        let reader = try LogReader(directory: directory).open(orders)
        var offsets: [Int64] = []
        while case let records = try reader.poll(maxRecords: 100), !records.isEmpty { offsets += records.map(\.offset) }
        return offsets
    }

    @Test func aTopicWithItsOwnRetentionKeepsByItsOwnBound() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = LogConfig()
        config.segmentBytes = 800
        config.retentionMilliseconds = nil
        config.retentionBytes = 2500
        // The changelog-like topic keeps more; the others keep the log's bound.
        config.topicRetention["__kept"] = TopicRetention(milliseconds: nil, bytes: 6000)
        let kept = try TopicPartition(topic: "__kept", partition: 0)
        let writer = try LogWriter.open(directory: dir.path, config: config)
        for index in 0..<80 {
            try writer.beginTransaction()
            try writer.append([record("value-\(index)")], to: orders)
            try writer.append([record("kept-\(index)")], to: kept)
            try writer.commit(metadata: [])
        }
        try writer.enforceRetention()
        func total(_ tp: TopicPartition) throws -> Int64 { try segmentLogs(dir.file(tp.directoryName)).reduce(Int64(0)) { $0 + (try fileSize($1)) } }
        #expect(try total(orders) <= 2500)
        #expect(try total(kept) <= 6000)
        #expect(try total(kept) > 2500 + 800, "the topic's own bound, not the log's, decides")
        writer.close()
        // Reopened with the same settings: recovery keeps each partition's own bound too.
        let reopened = try LogWriter.open(directory: dir.path, config: config)
        #expect(try total(kept) > 2500 + 800)
        reopened.close()
    }

    /// Writes 60 one-record units with `unit` to a writer retaining 2500 bytes of 800-byte
    /// segments, never reopened nor told to enforce retention; after each unit that rolled a
    /// segment, the partition must be back under the bound (between rolls the active segment
    /// grows, as in Kafka: retention deletes whole sealed segments).
    func expectRetentionBySizeWhileOpen(_ unit: (LogWriter, Int) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = LogConfig()
        config.segmentBytes = 800
        config.retentionMilliseconds = nil
        config.retentionBytes = 2500
        let writer = try LogWriter.open(directory: dir.path, config: config)
        defer { writer.close() }
        let partition = dir.file("orders-0")
        var newest = ""
        var rolls = 0
        for index in 0..<60 {
            try unit(writer, index)
            let logs = try segmentLogs(partition)
            guard let last = logs.last, last != newest else { continue }
            newest = last
            rolls += 1
            #expect(try logs.reduce(Int64(0)) { $0 + (try fileSize($1)) } <= 2500, "after unit \(index)")
        }
        #expect(rolls > 4)
        #expect(!FileIO.exists(partition + "/00000000000000000000.log"))
        #expect(try LogReader(directory: dir.path).open(orders).logStartOffset() > 0)
        #expect(try readAll(dir.path, orders, isolation: .readUncommitted).last == "value-59")
    }

    @Test func retentionBySizeRunsAtACommitWhileTheWriterStaysOpen() throws {
        try expectRetentionBySizeWhileOpen { writer, index in
            try writer.beginTransaction()
            try writer.append([record("value-\(index)")], to: orders)
            try writer.commit(metadata: [])
        }
    }

    @Test func retentionBySizeRunsAtASyncOfPlainAppendsWhileTheWriterStaysOpen() throws {
        try expectRetentionBySizeWhileOpen { writer, index in
            try writer.appendPlain([record("value-\(index)")], to: orders)
            try writer.sync()
        }
    }

    @Test func retentionByTimeRunsAtMostEveryCheckIntervalWhileTheWriterStaysOpen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = TestClock(1_000_000)
        var config = LogConfig()
        config.segmentBytes = 1000
        config.retentionMilliseconds = 3_600_000
        config.retentionBytes = nil
        config.retentionCheckMilliseconds = 10 * 3_600_000
        config.clock = { clock.now }
        let writer = try LogWriter.open(directory: dir.path, config: config)
        defer { writer.close() }
        func write(_ label: String) throws {
            try writer.beginTransaction()
            try writer.append([record(label, timestamp: clock.now)], to: orders)
            try writer.commit(metadata: [])
        }
        let partition = dir.file("orders-0")
        // Old transactions until the one that starts a fourth segment: the active segment then
        // holds one transaction, and one more does not roll it.
        var index = 0
        repeat {
            try write("old\(index)")
            index += 1
        } while try segmentLogs(partition).count < 4
        let before = try segmentLogs(partition)
        // Expired, but the check is not due and no segment rolls: nothing goes yet.
        clock.advance(by: 2 * 3_600_000)
        try write("young")
        #expect(try segmentLogs(partition) == before)
        // Once the check interval has passed, the next commit deletes the expired segments.
        clock.advance(by: 9 * 3_600_000)
        try write("new")
        let after = try segmentLogs(partition)
        #expect(after.count < before.count)
        let values = try readAll(dir.path, orders)
        #expect(!values.contains("old0"))
        #expect(values.last == "new")
    }

    @Test func aHugeLengthPrefixAtTheTailIsCutNotAllocated() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        try writer.append([record("fine")], to: orders)
        try writer.commit(metadata: [])
        writer.close()
        let log = dir.file("orders-0", "00000000000000000000.log")
        let goodSize = try fileSize(log)
        // A header claiming a 2 GiB batch, then a little garbage: a torn write.
        var bogus = [UInt8](repeating: 0, count: 8)
        bogus.appendInteger(Int32.max - 100)
        bogus += [0, 0, 0, 0, 2] + [UInt8](repeating: 0xAB, count: 80)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bogus))
        try handle.close()
        #expect(try readAll(dir.path, orders) == ["fine"])
        #expect(try LogVerifier.verify(directory: dir.path).isHealthy)
        try LogWriter.open(directory: dir.path).close()
        #expect(try fileSize(log) == goodSize)
        #expect(try readAll(dir.path, orders) == ["fine"])
    }

    @Test func replayedOldRecordsAreNotDeletedUntilTheirSegmentIsOldToo() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let day: Int64 = 86_400_000
        let clock = TestClock(100 * day)
        var config = LogConfig()
        config.segmentBytes = 600
        config.retentionMilliseconds = 7 * day
        config.clock = { clock.now }
        let writer = try LogWriter.open(directory: dir.path, config: config)
        for index in 0..<30 {
            try writer.beginTransaction()
            // A backlog from a month ago, written now.
            try writer.append([record("old-\(index)", timestamp: clock.now - 30 * day)], to: orders)
            try writer.commit(metadata: [])
        }
        let segments = try segmentLogs(dir.file("orders-0")).count
        #expect(segments > 3)
        try writer.enforceRetention()
        #expect(try segmentLogs(dir.file("orders-0")).count == segments)
        #expect(try readAll(dir.path, orders).first == "old-0")
        clock.advance(by: 8 * day)
        try writer.enforceRetention()
        #expect(try segmentLogs(dir.file("orders-0")).count == 1)
        writer.close()
    }
}
