import Foundation
import Testing
@testable import SegmentLog

@Suite struct ConsumerTests {
    let orders0 = try! TopicPartition(topic: "orders.created", partition: 0)
    let orders1 = try! TopicPartition(topic: "orders.created", partition: 1)
    let customers = try! TopicPartition(topic: "customers", partition: 0)
    let changelog = try! TopicPartition(topic: "__changelog", partition: 0)

    /// Committed, aborted and (left open by the returned writer) open transactions:
    /// orders.created-0: a1 a2 (commit) x (abort) a3 (commit); orders.created-1: b1 (commit),
    /// open (open); customers-0: c1 (commit); __changelog-0: s1 (commit).
    func writeSample(_ dir: TemporaryDirectory) throws -> LogWriter {
        let writer = try LogWriter.open(directory: dir.path)
        try writer.beginTransaction()
        try writer.append([record("a1", lsn: 0x100), record("a2", lsn: 0x100)], to: orders0)
        try writer.append([record("b1", lsn: 0x100)], to: orders1)
        try writer.append([record("s1")], to: changelog)
        try writer.commit(metadata: [])
        try writer.beginTransaction()
        try writer.append([record("x", lsn: 0x200)], to: orders0)
        try writer.abort()
        try writer.beginTransaction()
        try writer.append([record("a3", lsn: 0x300)], to: orders0)
        try writer.append([record("c1", lsn: 0x300)], to: customers)
        try writer.commit(metadata: [])
        try writer.beginTransaction()
        try writer.append([record("open", lsn: 0x400)], to: orders1)
        return writer
    }

    func values(_ records: [ConsumedRecord]) -> [String] { records.map { text($0.record.value) ?? "<null>" } }

    func drain(_ consumer: LogConsumer) throws -> [String] {
        var all: [String] = []
        while case let batch = try consumer.poll(maxRecords: 2), !batch.isEmpty { all += values(batch) }
        return all
    }

    @Test func subscriptionsMatchGlobsAndNameInternalTopicsExplicitly() {
        #expect(TopicSubscription().matches(orders0))
        #expect(!TopicSubscription().matches(changelog))
        #expect(!TopicSubscription(patterns: ["*"]).matches(changelog))
        #expect(TopicSubscription(patterns: ["__*"]).matches(changelog))
        #expect(TopicSubscription(patterns: ["orders.*"]).matches(orders1))
        #expect(!TopicSubscription(patterns: ["orders.*"]).matches(customers))
        #expect(!TopicSubscription(patterns: ["orders.*"], partition: 0).matches(orders1))
        #expect(TopicSubscription(patterns: ["customers", "orders.*"], partition: 0).matches(customers))
    }

    @Test func pollsCommittedRecordsPartitionByPartitionAtEitherIsolation() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try writeSample(dir)
        defer { writer.close() }
        let committed = try LogConsumer(directory: dir.path)
        #expect(committed.assignment == [customers, orders0, orders1])
        #expect(try drain(committed) == ["c1", "a1", "a2", "a3", "b1"])
        // Past the last COMMIT marker; orders.created-1 stops at its open transaction.
        #expect(committed.positions == [customers: 2, orders0: 7, orders1: 2])
        let uncommitted = try LogConsumer(directory: dir.path, subscription: TopicSubscription(patterns: ["orders.*"]), isolation: .readUncommitted)
        #expect(try drain(uncommitted) == ["a1", "a2", "x", "a3", "b1", "open"])
    }

    @Test func startPositions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try writeSample(dir)
        defer { writer.close() }
        let orders = TopicSubscription(patterns: ["orders.created"], partition: 0)
        func start(_ position: StartPosition) throws -> [String] {
            try drain(LogConsumer(directory: dir.path, subscription: orders, start: StartingPoint(position)))
        }
        #expect(try start(.beginning) == ["a1", "a2", "a3"])
        #expect(try start(.end) == [])
        #expect(try start(.lastRecords(1)) == ["a3"])
        #expect(try start(.lastRecords(2)) == ["a2", "a3"])
        #expect(try start(.offset(1)) == ["a2", "a3"])
        #expect(try start(.sourceLSN(0x300)) == ["a3"])
        #expect(try start(.sourceLSN(0x101)) == ["a3"])  // x (0x200) aborted
        #expect(try start(.timestamp(.max)) == [])

        let consumer = try LogConsumer(directory: dir.path, subscription: orders)
        try consumer.seek(orders0, to: .lastRecords(1))
        #expect(try drain(consumer) == ["a3"])
        #expect(throws: SegmentLogError.self) { try consumer.seek(customers, to: .beginning) }
    }

    @Test func takesOnPartitionsThatAppearFromTheirBeginning() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try writeSample(dir)
        defer { writer.close() }
        let consumer = try LogConsumer(directory: dir.path, start: StartingPoint(.end))
        #expect(try drain(consumer) == [])
        try writer.abort()
        let later = try TopicPartition(topic: "payments", partition: 2)
        try writer.beginTransaction()
        try writer.append([record("p1"), record("p2")], to: later)
        try writer.append([record("c2")], to: customers)
        try writer.commit(metadata: [])
        #expect(try consumer.refreshPartitions() == [later])
        #expect(try consumer.refreshPartitions() == [])
        #expect(try drain(consumer) == ["c2", "p1", "p2"])
    }

    @Test func aGroupResumesWhereItCommittedUnlessTheStartIsExplicit() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try writeSample(dir)
        defer { writer.close() }
        let orders = TopicSubscription(patterns: ["orders.created"], partition: 0)
        let first = try LogConsumer(directory: dir.path, subscription: orders, group: "billing", start: StartingPoint(.beginning))
        // Whole batches: a1 and a2 were written as one.
        #expect(values(try first.poll(maxRecords: 1)) == ["a1", "a2"])
        #expect(try first.committedOffsets() == [:])
        try first.commitOffsets()
        #expect(try first.committedOffsets() == [orders0: 2])

        let resumed = try LogConsumer(directory: dir.path, subscription: orders, group: "billing", start: StartingPoint(.beginning))
        #expect(try drain(resumed) == ["a3"])
        let explicit = try LogConsumer(
            directory: dir.path, subscription: orders, group: "billing", start: StartingPoint(.beginning, preferCommittedOffsets: false))
        #expect(try drain(explicit) == ["a1", "a2", "a3"])

        let noGroup = try LogConsumer(directory: dir.path)
        #expect(throws: SegmentLogError.self) { try noGroup.commitOffsets() }
        #expect(throws: SegmentLogError.self) { try LogConsumer(directory: dir.path, group: "bad/name") }
    }

    @Test func waitingEndsOnNewDataOnAWakeOrAtTheTimeout() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try writeSample(dir)
        defer { writer.close() }
        let consumer = try LogConsumer(directory: dir.path, subscription: TopicSubscription(patterns: ["customers"]))
        #expect(try drain(consumer) == ["c1"])
        #expect(consumer.waitForData(timeout: .milliseconds(20)) == .timedOut)

        // A wake from another thread, before or during the wait, ends it.
        let waker = consumer.waker
        let thread = Thread { waker.wake() }
        thread.start()
        #expect(consumer.waitForData(timeout: .seconds(60)) == .woken)
        #expect(consumer.waitForData(timeout: .milliseconds(20)) == .timedOut)

        // Data written to a watched partition ends it (the events wait in the queue until then).
        try writer.abort()
        try writer.beginTransaction()
        try writer.append([record("c2")], to: customers)
        try writer.commit(metadata: [])
        #expect(consumer.waitForData(timeout: .seconds(60)) == .changed)
        #expect(try drain(consumer) == ["c2"])
    }

    @Test func fetchReturnsStoredBatchesBoundsAndAbortedTransactions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try writeSample(dir)
        defer { writer.close() }
        let consumer = try LogConsumer(directory: dir.path)
        // orders.created-0: batch a1 a2 (0-1), COMMIT (2), x (3), ABORT (4), a3 (5), COMMIT (6).
        let all = try consumer.fetch(orders0, from: 0, maxBytes: 1 << 20)
        #expect(all.batches.map(\.header.baseOffset) == [0, 2, 3, 4, 5, 6])
        #expect(all.batches.map(\.header.isControl) == [false, true, false, true, false, true])
        #expect(all.offsets == PartitionOffsets(logStartOffset: 0, endOffset: 7, lastStableOffset: 7))
        #expect(all.abortedTransactions.map { [$0.producerId, $0.firstOffset] } == [[writer.producer.producerId, 3]])
        #expect(all.nextOffset == 7)
        // The bytes are the stored ones: they decode to the records written.
        #expect(try all.batches[0].records().map { text($0.value) } == ["a1", "a2"])

        // At least one batch, then only what fits; a fetch from inside a batch gets all of it.
        let first = try consumer.fetch(orders0, from: 1, maxBytes: 1)
        #expect(first.batches.map(\.header.baseOffset) == [0])
        #expect(first.abortedTransactions.isEmpty)
        let two = try consumer.fetch(orders0, from: 2, maxBytes: all.batches[1].bytes.count + all.batches[2].bytes.count)
        #expect(two.batches.map(\.header.baseOffset) == [2, 3])

        // read_committed stops at the open transaction; read_uncommitted does not.
        let open = try consumer.fetch(orders1, from: 0, maxBytes: 1 << 20)
        #expect(open.offsets == PartitionOffsets(logStartOffset: 0, endOffset: 3, lastStableOffset: 2))
        #expect(open.batches.map(\.header.baseOffset) == [0, 1])
        let everything = try LogConsumer(directory: dir.path, isolation: .readUncommitted).fetch(orders1, from: 0, maxBytes: 1 << 20)
        #expect(everything.batches.map(\.header.baseOffset) == [0, 1, 2])
        #expect(try consumer.offsets(orders1) == open.offsets)

        // Fetching does not move what poll reads.
        #expect(consumer.position(orders0) == 0)
    }

    @Test func theHighestSourceLSNCountsOpenAndAbortedRecords() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try writeSample(dir)
        defer { writer.close() }
        #expect(try LogReader(directory: dir.path).highestSourceLSN() == 0x400)
        let empty = try TemporaryDirectory()
        defer { empty.remove() }
        try LogWriter.open(directory: empty.path).close()
        #expect(try LogReader(directory: empty.path).highestSourceLSN() == nil)
    }
}
