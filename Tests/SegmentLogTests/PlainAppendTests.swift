import Foundation
import Testing
@testable import SegmentLog

/// Appends outside transactions (at-least-once, at-most-once).
@Suite struct PlainAppendTests {
    let orders = try! TopicPartition(topic: "orders", partition: 0)

    @Test func plainRecordsAreVisibleToReadCommittedAtOnceAndSurviveReopen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        try writer.appendPlain([record("a", lsn: 10), record("b", lsn: 10)], to: orders)
        #expect(try readAll(dir.path, orders) == ["a", "b"])
        try writer.appendPlain([record("c", lsn: 20)], to: orders)
        try writer.sync()
        #expect(writer.lastCommit == nil)
        writer.close()
        let reopened = try LogWriter.open(directory: dir.path)
        defer { reopened.close() }
        #expect(try readAll(dir.path, orders) == ["a", "b", "c"])
        try reopened.appendPlain([record("d")], to: orders)
        #expect(try readAll(dir.path, orders) == ["a", "b", "c", "d"])
    }

    @Test func aRetriedPlainAppendIsNotWrittenTwice() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        defer { writer.close() }
        let sequence = try writer.nextSequence(for: orders)
        let first = try writer.appendPlain([record("a"), record("b")], to: orders, baseSequence: sequence)
        let retry = try writer.appendPlain([record("a"), record("b")], to: orders, baseSequence: sequence)
        #expect(!first.wasDuplicate)
        #expect(retry.wasDuplicate)
        #expect(retry.firstOffset == first.firstOffset)
        #expect(try readAll(dir.path, orders) == ["a", "b"])
    }

    @Test func plainAppendsAndTransactionsDoNotMix() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path)
        defer { writer.close() }
        try writer.beginTransaction()
        #expect(throws: SegmentLogError.self) { try writer.appendPlain([record("a")], to: orders) }
        try writer.append([record("t")], to: orders)
        try writer.commit(metadata: [])
        try writer.appendPlain([record("p")], to: orders)
        #expect(try readAll(dir.path, orders) == ["t", "p"])
    }
}
