import Foundation
import Testing
@testable import SegmentLog

@Suite struct TopicDeclarationsTests {
    @Test func partitionCountsComeFromDeclarationsAndDirectories() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        defer { writer.close() }
        // Only partition 1 of "orders" is ever written; "legacy" is written but never declared.
        try writer.declareTopic("orders", partitionCount: 3)
        try writer.beginTransaction()
        try writer.append([record("a")], to: TopicPartition(topic: "orders", partition: 1))
        try writer.append([record("b")], to: TopicPartition(topic: "legacy", partition: 4))
        try writer.commit(metadata: [])
        let reader = try LogReader(directory: dir.path)
        #expect(try reader.partitions().map(\.directoryName) == ["legacy-4", "orders-1"])
        #expect(try reader.partitionCounts() == ["orders": 3, "legacy": 5])
        #expect(reader.exists(try TopicPartition(topic: "orders", partition: 1)))
        #expect(!reader.exists(try TopicPartition(topic: "orders", partition: 0)))
    }

    @Test func aDeclaredCountNeverShrinksAndSurvivesReopening() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        do {
            let writer = try LogWriter.open(directory: dir.path)
            defer { writer.close() }
            try writer.declareTopic("orders", partitionCount: 4)
            try writer.declareTopic("orders", partitionCount: 2)
            try writer.declareTopic("customers", partitionCount: 1)
        }
        let declarations = TopicDeclarations(logDirectory: dir.path)
        #expect(try declarations.partitionCounts() == ["orders": 4, "customers": 1])
        let writer = try LogWriter.open(directory: dir.path)
        defer { writer.close() }
        try writer.declareTopic("orders", partitionCount: 6)
        #expect(try declarations.partitionCounts() == ["orders": 6, "customers": 1])
        #expect(throws: SegmentLogError.self) { try writer.declareTopic("bad name", partitionCount: 1) }
        #expect(throws: SegmentLogError.self) { try writer.declareTopic("orders", partitionCount: 0) }
    }

    @Test func aDamagedDeclarationsFileIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data("{\"orders\": -1}".utf8).write(to: URL(fileURLWithPath: dir.file(TopicDeclarations.fileName)))
        #expect(throws: SegmentLogError.self) { try TopicDeclarations(logDirectory: dir.path).partitionCounts() }
    }

    @Test func theChangeWatcherSeesWritesToEveryPartitionAndItsWaker() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        defer { writer.close() }
        let orders0 = try TopicPartition(topic: "orders", partition: 0)
        try writer.beginTransaction()
        try writer.append([record("a")], to: orders0)
        try writer.commit(metadata: [])
        let watcher = LogChangeWatcher(directory: dir.path)
        #expect(watcher.wait(timeout: .zero) == .timedOut)
        // A write to a watched partition.
        try writer.beginTransaction()
        try writer.append([record("b")], to: orders0)
        try writer.commit(metadata: [])
        #expect(watcher.wait(timeout: .seconds(10)) == .changed)
        // A partition that appears: the log directory's watch sees it, then it is watched too.
        try writer.beginTransaction()
        try writer.append([record("c")], to: TopicPartition(topic: "orders", partition: 1))
        try writer.commit(metadata: [])
        #expect(watcher.wait(timeout: .seconds(10)) == .changed)
        #expect(watcher.watchNewPartitions() == 1)
        #expect(watcher.watchNewPartitions() == 0)
        watcher.waker.wake()
        #expect(watcher.wait(timeout: .seconds(10)) == .woken)
    }
}

@Suite struct ConsumerGroupListingTests {
    @Test func listsTheGroupsThatCommitted() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let groups = ConsumerGroups(logDirectory: dir.path)
        #expect(try groups.groups() == [])
        let tp = try TopicPartition(topic: "orders", partition: 0)
        try groups.commit(group: "shipping", offsets: [tp: 3])
        try groups.commit(group: "billing", offsets: [tp: 5])
        // A temporary file left by a crash mid-replace is not a group.
        _ = FileManager.default.createFile(atPath: groups.path + "/audit.json.tmp", contents: Data())
        #expect(try groups.groups() == ["billing", "shipping"])
    }
}
