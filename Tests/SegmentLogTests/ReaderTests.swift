import BinaryIO
import Foundation
import Synchronization
import Testing
@testable import SegmentLog

@Suite struct ReaderTests {
    let orders = try! TopicPartition(topic: "orders", partition: 0)

    /// A log of several segments whose records have rising timestamps and LSNs (some repeated,
    /// some transactions aborted), with small index intervals so seeks go through the indexes.
    func makeLog(_ dir: TemporaryDirectory) throws -> [StoredRecord] {
        var config = LogConfig()
        config.segmentBytes = 4000
        config.indexIntervalBytes = 200
        config.lsnIndexIntervalBytes = 600
        let writer = try LogWriter.open(directory: dir.path, config: config)
        var generator = SeededGenerator(seed: 11)
        var timestamp: Int64 = 10_000
        var lsn: UInt64 = 0x1_0000_0000
        for transaction in 0..<80 {
            try writer.beginTransaction()
            lsn += UInt64.random(in: 1...500, using: &generator)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                timestamp += Int64.random(in: 0...3, using: &generator)
                try writer.append([record("t\(transaction)", lsn: lsn, timestamp: timestamp)], to: orders)
            }
            if transaction % 9 == 4 { try writer.abort() } else { try writer.commit(metadata: []) }
        }
        writer.close()
        let reader = try LogReader(directory: dir.path).open(orders, isolation: .readUncommitted)
        var all: [StoredRecord] = []
        while case let batch = try reader.poll(), !batch.isEmpty { all += batch }
        return all
    }

    @Test func seekByOffsetLandsOnTheOffset() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let all = try makeLog(dir)
        #expect(try segmentLogs(dir.file("orders-0")).count > 3)
        let reader = try LogReader(directory: dir.path).open(orders, isolation: .readUncommitted)
        for target in all.map(\.offset) where target % 5 == 0 {
            try reader.seek(toOffset: target)
            #expect(try reader.poll(maxRecords: 1).first?.offset == target)
        }
        // A marker's offset: the next record after it.
        let markerOffset = all[0].offset + 1
        try reader.seek(toOffset: markerOffset)
        #expect(try reader.poll(maxRecords: 1).first?.offset == all.first { $0.offset >= markerOffset }?.offset)
    }

    @Test func seekByTimestampFindsTheFirstRecordAtOrAfter() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let all = try makeLog(dir)
        let reader = try LogReader(directory: dir.path).open(orders, isolation: .readUncommitted)
        let times = all.map(\.timestamp)
        for target in stride(from: times.first! - 2, through: times.last! + 2, by: 3) {
            try reader.seek(toTimestamp: target)
            let expected = all.first { $0.timestamp >= target }?.offset
            #expect(try reader.poll(maxRecords: 1).first?.offset == expected, "timestamp \(target)")
        }
    }

    @Test func seekByLSNUsesTheLSNIndexAndFindsTheFirstRecordAtOrAfter() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let all = try makeLog(dir)
        let partition = dir.file("orders-0")
        var entryCounts: [Int] = []
        for log in try segmentLogs(partition) {
            let entries = try LSNIndex.decode(try #require(try FileIO.readFile(log.replacingOccurrences(of: ".log", with: ".lsnindex"))))
            #expect(!entries.isEmpty)
            entryCounts.append(entries.count)
        }
        // Entries past each segment's first (at least `lsnIndexIntervalBytes` apart), so seeks
        // start inside segments too.
        #expect(entryCounts.contains { $0 > 1 }, "LSN index entries per segment: \(entryCounts)")
        let reader = try LogReader(directory: dir.path).open(orders, isolation: .readUncommitted)
        let lsns = Set(all.compactMap(\.record.sourceLSN)).sorted()
        for target in lsns.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) + [lsns.first! - 1, lsns.last! + 1] {
            try reader.seek(toLSN: target)
            let expected = all.first { ($0.record.sourceLSN ?? 0) >= target }?.offset
            #expect(try reader.poll(maxRecords: 1).first?.offset == expected, "lsn \(SourcePosition.format(target))")
            try reader.seek(toLSN: target - 1)
            let expectedBefore = all.first { ($0.record.sourceLSN ?? 0) >= target - 1 }?.offset
            #expect(try reader.poll(maxRecords: 1).first?.offset == expectedBefore)
        }
    }

    @Test func seeksStartFromTheIndexesNotFromTheBeginning() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let all = try makeLog(dir)
        let logs = try segmentLogs(dir.file("orders-0"))
        #expect(logs.count > 3)
        // Damage the middle of the first segment: any scan from the start now fails.
        let firstBatch = try BatchHeader.parse(try #require(try FileIO.readFile(logs[0])))
        try patchFile(logs[0], at: Int64(firstBatch.sizeInBytes) + 65, xor: 0x20)
        let reader = try LogReader(directory: dir.path).open(orders, isolation: .readUncommitted)
        #expect(throws: SegmentLogError.self) { _ = try reader.poll() }
        let lateBase = Int64((logs[logs.count - 2] as NSString).lastPathComponent.prefix(20))!
        let late = try #require(all.first { $0.offset > lateBase + 3 })
        try reader.seek(toLSN: late.record.sourceLSN!)
        #expect(try reader.poll(maxRecords: 1).first?.record.sourceLSN == late.record.sourceLSN)
        try reader.seek(toTimestamp: late.timestamp)
        #expect(try reader.poll(maxRecords: 1).first?.timestamp == late.timestamp)
        try reader.seek(toOffset: late.offset)
        #expect(try reader.poll(maxRecords: 1).first?.offset == late.offset)
    }

    @Test func readCommittedPollingMatchesTheCommittedTransactions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let all = try makeLog(dir)
        let committed = all.filter { Int(text($0.value)!.dropFirst())! % 9 != 4 }
        let reader = try LogReader(directory: dir.path).open(orders)
        var seen: [StoredRecord] = []
        while case let batch = try reader.poll(maxRecords: 3), !batch.isEmpty { seen += batch }
        #expect(seen == committed)
        // Starting in the middle of the log gives the committed suffix.
        let middle = committed[committed.count / 2].offset
        try reader.seek(toOffset: middle)
        var suffix: [StoredRecord] = []
        while case let batch = try reader.poll(), !batch.isEmpty { suffix += batch }
        #expect(suffix == committed.filter { $0.offset >= middle })
    }

    @Test func aBatchStillBeingWrittenIsNotThereYet() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        try writer.append([record("done")], to: orders)
        try writer.commit(metadata: [])
        writer.close()
        let log = dir.file("orders-0", "00000000000000000000.log")
        let next = try BatchCodec.encode([record("partial")], baseOffset: 2)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(next.prefix(next.count - 10)))
        let reader = try LogReader(directory: dir.path).open(orders, isolation: .readUncommitted)
        #expect(try reader.poll().map { text($0.value) } == ["done"])
        #expect(try reader.poll().isEmpty)
        #expect(try reader.endOffset() == 2)
        try handle.write(contentsOf: Data(next.suffix(10)))
        try handle.close()
        #expect(try reader.poll().map { text($0.value) } == ["partial"])
    }

    @Test func consumerGroupOffsetsPersistAndMerge() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let groups = ConsumerGroups(logDirectory: dir.path)
        let other = try TopicPartition(topic: "payments", partition: 2)
        #expect(try groups.committedOffsets(group: "billing").isEmpty)
        try groups.commit(group: "billing", offsets: [orders: 10, other: 4])
        try groups.commit(group: "billing", offsets: [orders: 12])
        try groups.commit(group: "audit", offsets: [orders: 1])
        #expect(try groups.committedOffsets(group: "billing") == [orders: 12, other: 4])
        #expect(try ConsumerGroups(logDirectory: dir.path).committedOffsets(group: "audit") == [orders: 1])
        let json = try #require(try FileIO.readFile(dir.file("__consumer_offsets", "billing.json")))
        #expect(text(json) == #"{"orders-0":12,"payments-2":4}"#)
        #expect(!FileIO.exists(dir.file("__consumer_offsets", "billing.json.tmp")))
        #expect { try groups.commit(group: "../escape", offsets: [:]) } throws: { ($0 as? SegmentLogError)?.code == .invalidArgument }
    }
}

@Suite struct ConcurrentReadTests {
    /// Aborted transactions, some aborted by a writer's restart, among committed ones, while
    /// a read_committed reader follows: it must deliver exactly the committed records.
    @Test func readerFollowingAWriterSeesExactlyTheCommittedRecordsInOrder() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tp = try TopicPartition(topic: "live", partition: 0)
        var config = LogConfig()
        config.segmentBytes = 5000
        // Create the partition before the reader opens it.
        let setup = try LogWriter.open(directory: dir.path, config: config)
        try setup.beginTransaction()
        try setup.append([record("seed")], to: tp)
        try setup.commit(metadata: [])
        setup.close()
        let path = dir.path
        let finished = Atomic<Bool>(false)
        let writerTask = Task.detached { () throws -> [String] in
            defer { finished.store(true, ordering: .releasing) }
            var writer = try LogWriter.open(directory: path, config: config)
            defer { writer.close() }
            var committed = ["seed"]
            for transaction in 0..<600 {
                try writer.beginTransaction()
                let values = (0..<3).map { "w\(transaction)-\($0)" }
                try writer.append(values.map { record($0) }, to: tp)
                if transaction % 50 == 49 {
                    // Closed with the transaction open, then opened again: the open rebuilds
                    // the active segment's indexes and aborts the transaction in doubt, all
                    // while the reader keeps polling.
                    writer.close()
                    writer = try LogWriter.open(directory: path, config: config)
                } else if transaction % 4 == 1 {
                    try writer.abort()
                } else {
                    try writer.commit(metadata: [])
                    committed += values
                }
            }
            return committed
        }
        let reader = try LogReader(directory: dir.path).open(tp)
        var seen: [String] = []
        var polls = 0
        while true {
            // Read the flag before polling: once set, one empty poll means all is read.
            let writerFinished = finished.load(ordering: .acquiring)
            let batch = try reader.poll()
            polls += 1
            seen += batch.map { text($0.value)! }
            if batch.isEmpty {
                if writerFinished { break }
                await Task.yield()
            }
        }
        let expected = try await writerTask.value
        #expect(polls > 2)
        #expect(seen == expected)
    }
}
