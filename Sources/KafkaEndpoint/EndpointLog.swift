import SegmentLog
import Synchronization

/// The log as the endpoint reads it: its topics with their partition counts, and one
/// `PartitionReader` per partition and isolation level, each used by one thread at a time.
///
/// Every method does blocking file I/O: call them from a thread pool, never an event loop.
final class EndpointLog: Sendable {
    let reader: LogReader
    /// Committed offsets of consumer groups: the same files `outflow tail --group` uses.
    let groups: ConsumerGroups
    private let slots = Mutex<[SlotKey: ReaderSlot]>([:])
    /// A commit reads, merges and replaces a group's file: one at a time, so that two
    /// connections committing for one group do not lose each other's partitions.
    private let groupCommits = Mutex(())

    private struct SlotKey: Hashable {
        var topicPartition: TopicPartition
        var isolation: SegmentLog.IsolationLevel
    }

    /// A reader and the lock that gives it to one thread at a time: a reader keeps a position
    /// and open files, and fetches from many connections share it.
    private final class ReaderSlot: Sendable {
        let reader: Mutex<PartitionReader>
        init(_ reader: sending PartitionReader) { self.reader = Mutex(reader) }
    }

    init(directory: String) throws(SegmentLogError) {
        reader = try LogReader(directory: directory)
        groups = ConsumerGroups(logDirectory: reader.directory)
    }

    func commit(group: String, offsets: [TopicPartition: Int64], afterTemporaryWrite: () -> Void = {}) throws(SegmentLogError) {
        try groupCommits.withLock { _ throws(SegmentLogError) in
            try groups.commit(group: group, offsets: offsets, afterTemporaryWrite: afterTemporaryWrite)
        }
    }

    /// Every topic and its partition count (see `LogReader.partitionCounts`), internal ones
    /// included: read once per request, since the pipeline may add topics at any time.
    func partitionCounts() throws(SegmentLogError) -> [String: Int32] {
        try reader.partitionCounts()
    }

    /// A partition's bounds; all zero for a declared partition not yet written.
    func offsets(_ tp: TopicPartition, isolation: SegmentLog.IsolationLevel) throws(SegmentLogError) -> PartitionOffsets {
        guard let slot = try slot(tp, isolation) else { return .empty }
        return try slot.reader.withLock { reader throws(SegmentLogError) in try reader.offsets() }
    }

    /// What a Fetch of `tp` from `offset` answers.
    enum FetchOutcome: Sendable {
        case batches(PartitionFetch)
        /// `offset` is before the log start or after the end.
        case offsetOutOfRange(PartitionOffsets)
    }

    /// Stored batches from `offset` (see `PartitionReader.fetch`), or why there are none.
    /// `maxBytes` 0 reads no batch: the partition's bounds only, for a response already full.
    func fetch(_ tp: TopicPartition, isolation: SegmentLog.IsolationLevel, from offset: Int64, maxBytes: Int) throws(SegmentLogError) -> FetchOutcome {
        guard let slot = try slot(tp, isolation) else {
            return offset == 0 ? .batches(.empty(.empty)) : .offsetOutOfRange(.empty)
        }
        return try slot.reader.withLock { reader throws(SegmentLogError) -> FetchOutcome in
            let offsets = try reader.offsets()
            guard offset >= offsets.logStartOffset, offset <= offsets.endOffset else { return .offsetOutOfRange(offsets) }
            guard maxBytes > 0 else { return .batches(.empty(offsets)) }
            return .batches(try reader.fetch(from: offset, maxBytes: maxBytes))
        }
    }

    /// The first record at or after `timestamp` that the isolation level lets a consumer see:
    /// its offset and timestamp; nil when there is none.
    func firstRecord(atOrAfter timestamp: Int64, in tp: TopicPartition, isolation: SegmentLog.IsolationLevel)
        throws(SegmentLogError) -> (offset: Int64, timestamp: Int64)?
    {
        guard let slot = try slot(tp, .readUncommitted) else { return nil }
        let bound = try offsets(tp, isolation: isolation)
        let limit = isolation == .readCommitted ? bound.lastStableOffset : bound.endOffset
        return try slot.reader.withLock { reader throws(SegmentLogError) -> (offset: Int64, timestamp: Int64)? in
            try reader.seek(toTimestamp: timestamp)
            guard let record = try reader.poll(maxRecords: 1).first, record.offset < limit else { return nil }
            return (record.offset, record.timestamp)
        }
    }

    /// The reader slot of `tp`, opened on first use; nil while the partition has no directory.
    private func slot(_ tp: TopicPartition, _ isolation: SegmentLog.IsolationLevel) throws(SegmentLogError) -> ReaderSlot? {
        let key = SlotKey(topicPartition: tp, isolation: isolation)
        if let slot = slots.withLock({ $0[key] }) { return slot }
        guard reader.exists(tp) else { return nil }
        let opened = ReaderSlot(try reader.open(tp, isolation: isolation))
        // Two threads may open the same reader at once: the first one stored wins.
        return slots.withLock { slots in
            if let existing = slots[key] { return existing }
            slots[key] = opened
            return opened
        }
    }
}
