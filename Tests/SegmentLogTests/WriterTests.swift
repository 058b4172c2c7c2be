import BinaryIO
import Foundation
import Testing
@testable import SegmentLog

#if canImport(Glibc)
import Glibc
#endif

func record(_ value: String, lsn: UInt64? = nil, timestamp: Int64 = 1_700_000_000_000) -> Record {
    var headers: [RecordHeader] = []
    if let lsn { headers.append(RecordHeader(key: SourcePosition.headerKey, text: SourcePosition.format(lsn))) }
    return Record(key: bytes("k-" + value), value: bytes(value), headers: headers, timestamp: timestamp)
}

func readAll(_ directory: String, _ tp: TopicPartition, isolation: IsolationLevel = .readCommitted) throws -> [String] {
    let reader = try LogReader(directory: directory).open(tp, isolation: isolation)
    var values: [String] = []
    while true {
        let batch = try reader.poll(maxRecords: 1000)
        if batch.isEmpty { return values }
        values += batch.map { text($0.value) ?? "<null>" }
    }
}

@Suite struct WriterTests {
    let orders = try! TopicPartition(topic: "orders", partition: 0)
    let payments = try! TopicPartition(topic: "payments", partition: 3)

    @Test func committedTransactionSpansPartitionsAndMetadataSurvivesReopen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        #expect(writer.lastCommit == nil)
        try writer.beginTransaction()
        try writer.append([record("a"), record("b")], to: orders)
        try writer.append([record("c")], to: payments)
        let result = try writer.commit(metadata: bytes("lsn=0/10"))
        #expect(result.transactionId == 1)
        #expect(result.ranges.map(\.topicPartition) == [orders, payments])
        #expect(try readAll(dir.path, orders) == ["a", "b"])
        #expect(try readAll(dir.path, payments) == ["c"])
        let firstProducer = writer.producer
        writer.close()

        let reopened = try LogWriter.open(directory: dir.path)
        #expect(reopened.lastCommittedMetadata == bytes("lsn=0/10"))
        #expect(reopened.producer.producerId == firstProducer.producerId)
        #expect(reopened.producer.epoch == firstProducer.epoch + 1)
        #expect(try LogReader(directory: dir.path).lastCommit()?.metadata == bytes("lsn=0/10"))
        #expect(FileIO.exists(dir.file("orders-0", "00000000000000000000.log")))
        #expect(FileIO.exists(dir.file("orders-0", "00000000000000000000.index")))
        #expect(FileIO.exists(dir.file("orders-0", "00000000000000000000.timeindex")))
        #expect(FileIO.exists(dir.file("orders-0", "00000000000000000000.txnindex")))
        reopened.close()
    }

    @Test func openTransactionIsInvisibleToReadCommittedOnly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        try writer.append([record("one")], to: orders)
        try writer.commit(metadata: [])
        try writer.beginTransaction()
        try writer.append([record("two")], to: orders)
        #expect(try readAll(dir.path, orders) == ["one"])
        #expect(try readAll(dir.path, orders, isolation: .readUncommitted) == ["one", "two"])
        let reader = try LogReader(directory: dir.path).open(orders)
        #expect(try reader.lastStableOffset() == 2)  // "one" at 0, its marker at 1, "two" at 2
        #expect(try reader.endOffset() == 3)
        try writer.commit(metadata: [])
        #expect(try readAll(dir.path, orders) == ["one", "two"])
        writer.close()
    }

    @Test func abortedTransactionIsDroppedAndIndexed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        for (index, outcome) in ["commit", "abort", "commit", "abort"].enumerated() {
            try writer.beginTransaction()
            try writer.append([record("\(index)a"), record("\(index)b")], to: orders)
            if outcome == "commit" { try writer.commit(metadata: [UInt8(index)]) } else { try writer.abort() }
        }
        #expect(try readAll(dir.path, orders) == ["0a", "0b", "2a", "2b"])
        #expect(try readAll(dir.path, orders, isolation: .readUncommitted).count == 8)
        let entries = try TxnIndex.decode(try #require(try FileIO.readFile(dir.file("orders-0", "00000000000000000000.txnindex"))))
        // Each transaction: two records then a marker, so transaction i spans 3i...3i+2.
        #expect(entries.map(\.firstOffset) == [3, 9])
        #expect(entries.map(\.lastOffset) == [5, 11])
        #expect(entries.allSatisfy { $0.producerId == writer.producer.producerId })
        #expect(writer.lastCommittedMetadata == [2])
        writer.close()
    }

    @Test func secondWriterInProcessFencesTheFirst() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try LogWriter.open(directory: dir.path)
        try first.beginTransaction()
        try first.append([record("zombie")], to: orders)
        let second = try LogWriter.open(directory: dir.path)
        #expect(second.producer.epoch == first.producer.epoch + 1)
        #expect { try first.append([record("late")], to: orders) } throws: { ($0 as? SegmentLogError)?.code == .producerFenced }
        #expect { try first.commit(metadata: []) } throws: { ($0 as? SegmentLogError)?.code == .producerFenced }
        // The second writer's recovery aborted the zombie's open transaction.
        #expect(try readAll(dir.path, orders).isEmpty)
        try second.beginTransaction()
        try second.append([record("fresh")], to: orders)
        try second.commit(metadata: [])
        first.close()  // must not release the lease the second writer holds
        #expect(try readAll(dir.path, orders) == ["fresh"])
        second.close()
    }

    @Test func anotherProcessHoldingTheLockIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // flock conflicts between open file descriptions, as between processes.
        let fd = open(dir.file(".lock"), O_RDWR | O_CREAT, 0o644)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        #expect { try LogWriter.open(directory: dir.path) } throws: { ($0 as? SegmentLogError)?.code == .logLocked }
        close(fd)
        let writer = try LogWriter.open(directory: dir.path)
        writer.close()
    }

    @Test func retriedAppendIsRecognisedAndNotWrittenTwice() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        let sequence = try writer.nextSequence(for: orders)
        #expect(sequence == 0)
        let first = try writer.append([record("x"), record("y")], to: orders, baseSequence: sequence)
        let retry = try writer.append([record("x"), record("y")], to: orders, baseSequence: sequence)
        #expect(!first.wasDuplicate)
        #expect(retry.wasDuplicate)
        #expect(retry.firstOffset == first.firstOffset && retry.lastOffset == first.lastOffset)
        #expect { try writer.append([record("z")], to: orders, baseSequence: 7) } throws: {
            ($0 as? SegmentLogError)?.code == .outOfOrderSequence
        }
        try writer.append([record("z")], to: orders)
        try writer.commit(metadata: [])
        #expect(try readAll(dir.path, orders) == ["x", "y", "z"])
        writer.close()
    }

    @Test func misuseIsATypedError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        #expect { try writer.append([record("a")], to: orders) } throws: { ($0 as? SegmentLogError)?.code == .invalidTransactionState }
        #expect { try writer.commit(metadata: []) } throws: { ($0 as? SegmentLogError)?.code == .invalidTransactionState }
        try writer.beginTransaction()
        #expect { try writer.beginTransaction() } throws: { ($0 as? SegmentLogError)?.code == .invalidTransactionState }
        writer.close()
        #expect { try writer.beginTransaction() } throws: { ($0 as? SegmentLogError)?.code == .writerClosed }
    }

    @Test func emptyCommitStillRecordsMetadata() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        try writer.commit(metadata: bytes("position-1"))
        writer.close()
        #expect(try LogWriter.open(directory: dir.path).lastCommittedMetadata == bytes("position-1"))
    }

    @Test(arguments: ["", ".", "..", "has space", "slash/name", String(repeating: "a", count: 250), "ümlaut"])
    func illegalTopicNamesAreRejected(name: String) {
        #expect { try TopicPartition(topic: name, partition: 0) } throws: { ($0 as? SegmentLogError)?.code == .invalidTopicName }
    }

    @Test func legalTopicNamesRoundTripThroughDirectoryNames() throws {
        for name in ["a", "orders.v1", "my_topic-2", String(repeating: "z", count: 249)] {
            let tp = try TopicPartition(topic: name, partition: 12)
            #expect(TopicPartition(directoryName: tp.directoryName) == tp)
        }
        #expect(TopicPartition(directoryName: "__transactions") == nil)
        #expect(TopicPartition(directoryName: "orders-x") == nil)
        #expect(TopicPartition(directoryName: "orders-01") == nil)
        #expect(TopicPartition(directoryName: "orders-+1") == nil)
        #expect(TopicPartition(directoryName: "orders--1") == (try TopicPartition(topic: "orders-", partition: 1)))
        #expect(TopicPartition(directoryName: "my-topic-7") == (try TopicPartition(topic: "my-topic", partition: 7)))
    }
}
