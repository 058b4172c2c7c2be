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

    /// A reader positioned at the partition's first stored offset.
    public func open(_ tp: TopicPartition, isolation: IsolationLevel = .readCommitted) throws(SegmentLogError) -> PartitionReader {
        let path = directory + "/" + tp.directoryName
        guard FileIO.exists(path) else { throw SegmentLogError(.invalidArgument, "no partition \(tp) in this log", path: path) }
        return try PartitionReader(directory: path, topicPartition: tp, isolation: isolation, limits: limits)
    }

    /// The newest commit record, without opening a writer.
    public func lastCommit() throws(SegmentLogError) -> CommitRecord? {
        try TransactionLog.lastCommit(in: directory + "/" + TransactionLog.directoryName, limits: limits)
    }
}
