import BinaryIO
import Foundation

/// Read-only access to a log directory: needs no lock and works while a writer appends.
public struct LogReader: Sendable {
    public let directory: String
    public let limits: DecodeLimits

    public init(directory: String, limits: DecodeLimits = .default) throws(SegmentLogError) {
        guard FileIO.exists(directory) else { throw SegmentLogError(.io, "log directory does not exist", path: directory) }
        self.directory = directory
        self.limits = limits
    }

    /// The partitions present, sorted by topic then partition.
    public func partitions() throws(SegmentLogError) -> [TopicPartition] {
        try FileIO.listDirectory(directory).compactMap(TopicPartition.init(directoryName:)).sorted()
    }

    public func topics() throws(SegmentLogError) -> [String] {
        Array(Set(try partitions().map(\.topic))).sorted()
    }

    /// Every topic with its partition count: the declared count (`TopicDeclarations`), or the
    /// highest partition directory + 1 when that is more (or nothing was declared). Internal
    /// topics (names starting `__`) included.
    public func partitionCounts() throws(SegmentLogError) -> [String: Int32] {
        var counts = try TopicDeclarations(logDirectory: directory).partitionCounts()
        for tp in try partitions() { counts[tp.topic] = max(counts[tp.topic] ?? 0, tp.partition + 1) }
        return counts
    }

    /// Whether `tp` has a directory yet (a declared partition may have none before its first write).
    public func exists(_ tp: TopicPartition) -> Bool {
        FileIO.exists(directory + "/" + tp.directoryName)
    }

    /// A reader positioned at the partition's first stored offset.
    public func open(_ tp: TopicPartition, isolation: IsolationLevel = .readCommitted) throws(SegmentLogError) -> PartitionReader {
        let path = directory + "/" + tp.directoryName
        guard FileIO.exists(path) else { throw SegmentLogError(.invalidArgument, "no partition \(tp) in this log", path: path) }
        return try PartitionReader(directory: path, topicPartition: tp, isolation: isolation, limits: limits)
    }

    /// The highest source position (`outflow.lsn`) of any record in the log, committed or
    /// not (what an at-most-once writer resumes after, so that nothing it ever wrote is
    /// written again); nil when no record has one.
    public func highestSourceLSN() throws(SegmentLogError) -> UInt64? {
        var highest: UInt64?
        for partition in try partitions() {
            let reader = try open(partition, isolation: .readUncommitted)
            let start = try reader.logStartOffset()
            var offset = try reader.endOffset() - 1
            // Step back over trailing control batches (markers) to the last data record.
            while offset >= start {
                try reader.seek(toOffset: offset)
                if let lsn = try reader.poll(maxRecords: 1_000_000).compactMap(\.record.sourceLSN).max() {
                    highest = max(highest ?? 0, lsn)
                    break
                }
                offset -= 1
            }
        }
        return highest
    }

    /// The newest commit record, without opening a writer.
    public func lastCommit() throws(SegmentLogError) -> CommitRecord? {
        try TransactionLog.lastCommit(in: directory + "/" + TransactionLog.directoryName, limits: limits)
    }
}
