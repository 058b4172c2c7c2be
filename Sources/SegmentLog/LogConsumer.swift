#if canImport(Glibc)
import Glibc
#endif

/// Which partitions a consumer reads: topics by name or glob (`fnmatch`), optionally only one
/// partition number.
public struct TopicSubscription: Sendable, Hashable {
    /// Topic names or globs such as `orders.*`; empty means every topic but the internal ones.
    public var patterns: [String]
    /// Only partitions with this number, when set.
    public var partition: Int32?

    public init(patterns: [String] = [], partition: Int32? = nil) {
        self.patterns = patterns
        self.partition = partition
    }

    /// Internal topics (`__changelog`, names starting `__`) only when a pattern starting `__`
    /// names them, as Kafka's consumers exclude internal topics from wildcard subscriptions.
    public func matches(_ tp: TopicPartition) -> Bool {
        if let partition, tp.partition != partition { return false }
        if tp.topic.hasPrefix("__") { return patterns.contains { $0.hasPrefix("__") && fnmatch($0, tp.topic, 0) == 0 } }
        return patterns.isEmpty || patterns.contains { fnmatch($0, tp.topic, 0) == 0 }
    }
}

/// A position in a partition to start reading from.
public enum StartPosition: Sendable, Hashable {
    /// The first stored record.
    case beginning
    /// After the last record visible at the consumer's isolation: only new records.
    case end
    /// This offset (the log start if it is older).
    case offset(Int64)
    /// The first record whose timestamp (ms since the epoch) is at or after this one.
    case timestamp(Int64)
    /// The first record whose source LSN (`outflow.lsn`) is at or after this one.
    case sourceLSN(UInt64)
    /// About the last `n` visible records.
    case lastRecords(Int)
}

/// Where the partitions a consumer takes on start reading.
public struct StartingPoint: Sendable, Hashable {
    /// Where partitions present at the consumer's first look start.
    public var position: StartPosition
    /// Whether a consumer group's committed offset, when it has one for a partition, wins
    /// over `position` (Kafka's rule: `position` is then only the reset policy). When it does,
    /// partitions that appear after the first look start at their beginning, as everything in
    /// them is new; otherwise they start at `position` too.
    public var preferCommittedOffsets: Bool

    public init(_ position: StartPosition, preferCommittedOffsets: Bool = true) {
        self.position = position
        self.preferCommittedOffsets = preferCommittedOffsets
    }
}

/// A record and the partition it was read from.
public struct ConsumedRecord: Sendable, Hashable {
    public var topicPartition: TopicPartition
    public var record: StoredRecord
}

/// Reads a log as a Kafka consumer reads a cluster: subscribes to topics by name or glob,
/// takes on partitions as they appear, polls records at an isolation level, seeks by offset,
/// time or source LSN, commits a consumer group's offsets, and waits for new data with a
/// timeout (inotify), which another thread can end early (`waker`).
///
/// For a server answering Kafka Fetch requests, `fetch` reads a partition by offset and
/// returns the stored batches as they are with the partition's bounds and the aborted
/// transactions they overlap; `offsets` gives the log start, end and last stable offsets.
///
/// Needs no lock and works while a writer appends. Not thread-safe, except `waker`: own it from
/// one thread or task.
public final class LogConsumer {
    public let log: LogReader
    public let subscription: TopicSubscription
    public let isolation: IsolationLevel
    /// The consumer group whose offsets `commitOffsets` stores, if any.
    public let group: String?
    public let start: StartingPoint
    /// Ends a `waitForData` in progress (or the next one) from any thread.
    public var waker: LogWaker { watcher.waker }

    private let groups: ConsumerGroups
    private let watcher = LogWatcher()
    private var readers: [TopicPartition: PartitionReader] = [:]
    /// Readers for `fetch`, apart from `readers` so a fetch does not move what `poll` reads.
    private var fetchers: [TopicPartition: PartitionReader] = [:]
    /// After the first look, partitions that appear are new.
    private var lookedOnce = false

    /// Opens the log at `directory` and takes on the partitions it has that `subscription`
    /// matches, positioned as `start` says.
    public init(
        directory: String, subscription: TopicSubscription = TopicSubscription(), isolation: IsolationLevel = .readCommitted,
        group: String? = nil, start: StartingPoint = StartingPoint(.beginning), limits: DecodeLimits = .default
    ) throws(SegmentLogError) {
        log = try LogReader(directory: directory, limits: limits)
        self.subscription = subscription
        self.isolation = isolation
        self.group = group
        self.start = start
        groups = ConsumerGroups(logDirectory: directory)
        if let group { try ConsumerGroups.validate(group: group) }
        try refreshPartitions()
    }

    /// The partitions taken on so far, sorted.
    public var assignment: [TopicPartition] { readers.keys.sorted() }

    /// Takes on the matching partitions that appeared since the last look, positioned (see
    /// `StartingPoint`); returns them.
    @discardableResult
    public func refreshPartitions() throws(SegmentLogError) -> [TopicPartition] {
        watcher.watch(log.directory)
        let committed = try group.map { group throws(SegmentLogError) in try groups.committedOffsets(group: group) } ?? [:]
        var added: [TopicPartition] = []
        for tp in try log.partitions() where readers[tp] == nil && subscription.matches(tp) {
            let reader = try log.open(tp, isolation: isolation)
            watcher.watch(log.directory + "/" + tp.directoryName)
            if !start.preferCommittedOffsets {
                try Self.seek(reader, to: start.position)
            } else if let offset = committed[tp] {
                try reader.seek(toOffset: offset)
            } else {
                try Self.seek(reader, to: lookedOnce ? .beginning : start.position)
            }
            readers[tp] = reader
            added.append(tp)
        }
        lookedOnce = true
        return added
    }

    /// Up to about `maxRecords` records (whole batches), partition by partition in order: a
    /// partition's records up to its bound come before the next partition's. Empty when no
    /// partition has anything new.
    public func poll(maxRecords: Int = 500) throws(SegmentLogError) -> [ConsumedRecord] {
        var delivered: [ConsumedRecord] = []
        for tp in assignment {
            let reader = readers[tp]!
            while delivered.count < maxRecords {
                let records = try reader.poll(maxRecords: maxRecords - delivered.count)
                if records.isEmpty { break }
                delivered += records.map { ConsumedRecord(topicPartition: tp, record: $0) }
            }
            if delivered.count >= maxRecords { break }
        }
        return delivered
    }

    /// The next offset `poll` reads in `tp`, nil for a partition not taken on.
    public func position(_ tp: TopicPartition) -> Int64? { readers[tp]?.position }

    /// The next offset of every partition taken on.
    public var positions: [TopicPartition: Int64] { readers.mapValues(\.position) }

    /// Moves where `poll` reads `tp` from.
    public func seek(_ tp: TopicPartition, to position: StartPosition) throws(SegmentLogError) {
        guard let reader = readers[tp] else {
            throw SegmentLogError(.invalidArgument, "partition \(tp) is not in this consumer's assignment")
        }
        try Self.seek(reader, to: position)
    }

    /// Stores the next offset of every partition taken on as the group's committed offsets.
    public func commitOffsets() throws(SegmentLogError) {
        guard let group else { throw SegmentLogError(.invalidArgument, "a consumer without a group has no offsets to commit") }
        try groups.commit(group: group, offsets: positions)
    }

    /// The group's committed offsets (empty without a group).
    public func committedOffsets() throws(SegmentLogError) -> [TopicPartition: Int64] {
        guard let group else { return [:] }
        return try groups.committedOffsets(group: group)
    }

    /// Blocks until the log may have new data (a watched directory changed), `waker` is woken,
    /// a signal arrives, or `timeout` passes. Then `refreshPartitions` and `poll` tell what is new.
    @discardableResult
    public func waitForData(timeout: Duration) -> DataWait {
        switch watcher.wait(timeout: timeout) {
        case .changed: .changed
        case .timedOut: .timedOut
        case .woken: .woken
        case .interrupted: .interrupted
        }
    }

    /// Why `waitForData` returned.
    public enum DataWait: Sendable, Hashable {
        case changed, timedOut, woken, interrupted
    }

    // MARK: Serving Kafka fetches

    /// The bounds of partition `tp` (any partition of the log, taken on or not).
    public func offsets(_ tp: TopicPartition) throws(SegmentLogError) -> PartitionOffsets {
        try fetcher(tp).offsets()
    }

    /// Stored batches of `tp` from `offset` on, at this consumer's isolation: see
    /// `PartitionReader.fetch`. Does not move what `poll` reads.
    public func fetch(_ tp: TopicPartition, from offset: Int64, maxBytes: Int) throws(SegmentLogError) -> PartitionFetch {
        try fetcher(tp).fetch(from: offset, maxBytes: maxBytes)
    }

    private func fetcher(_ tp: TopicPartition) throws(SegmentLogError) -> PartitionReader {
        if let reader = fetchers[tp] { return reader }
        let reader = try log.open(tp, isolation: isolation)
        fetchers[tp] = reader
        return reader
    }

    private static func seek(_ reader: PartitionReader, to position: StartPosition) throws(SegmentLogError) {
        switch position {
        case .beginning: try reader.seekToBeginning()
        case .end: try reader.seekToEnd()
        case .offset(let offset): try reader.seek(toOffset: offset)
        case .timestamp(let timestamp): try reader.seek(toTimestamp: timestamp)
        case .sourceLSN(let lsn): try reader.seek(toLSN: lsn)
        case .lastRecords(let count): try reader.seek(toLastRecords: count)
        }
    }
}
