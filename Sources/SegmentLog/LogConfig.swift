import BinaryIO

/// Settings of a log directory's partitions. Defaults follow Kafka's where Kafka has one.
public struct LogConfig: Sendable {
    /// Roll to a new segment before one grows past this size (Kafka `segment.bytes`).
    public var segmentBytes: Int64 = 1 << 30
    /// Roll a segment whose first batch is older than this (Kafka `segment.ms`, 7 days).
    public var segmentMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// Bytes of log between two sparse index entries (Kafka `index.interval.bytes`).
    public var indexIntervalBytes: Int = 4096
    /// Bytes of log between two `.lsnindex` entries, at least. An entry needs its batch's
    /// first record decoded, which at the offset index's cadence was most of the time taken
    /// to rebuild an active segment's indexes when a log is opened; a seek by LSN scans
    /// forward from the entry before it, so a sparser index costs a seek this much reading.
    public var lsnIndexIntervalBytes: Int = 256 * 1024
    /// Delete whole segments whose newest record is older than this; nil keeps them.
    public var retentionMilliseconds: Int64? = 7 * 24 * 3_600_000
    /// Delete the oldest segments while a partition is larger than this; nil means no bound.
    public var retentionBytes: Int64?
    /// Topics whose retention differs from the log's (the changelog keeps its own): their
    /// partitions use these instead of `retentionMilliseconds` / `retentionBytes`.
    public var topicRetention: [String: TopicRetention] = [:]
    /// How often a writer that stays open applies the retention time, at most (Kafka
    /// `log.retention.check.interval.ms`, 5 minutes); see `LogWriter.enforceRetentionIfDue`.
    public var retentionCheckMilliseconds: Int64 = 300_000
    public var compression: CompressionCodec = .zstd
    public var zstdLevel: Int32 = 3
    /// The writer cuts an append into batches of about this many uncompressed bytes.
    public var maxBatchBytes: Int = 1 << 20
    public var limits: DecodeLimits = .default
    /// Recompress sealed segments in the background at a higher zstd level (see
    /// `SealedSegmentRecompressor`); nil leaves them as written.
    public var recompression: RecompressionSettings?
    /// Milliseconds since the epoch; replaceable so tests control roll and retention.
    public var clock: @Sendable () -> Int64 = { wallClockMilliseconds() }

    public init() {}

    /// The settings `topic`'s partitions use: the log's, with the topic's own retention.
    public func forTopic(_ topic: String) -> LogConfig {
        guard let own = topicRetention[topic] else { return self }
        var config = self
        config.retentionMilliseconds = own.milliseconds
        config.retentionBytes = own.bytes
        return config
    }
}

/// How long and how much of one topic is kept (nil: no bound of that kind).
public struct TopicRetention: Sendable, Equatable {
    public var milliseconds: Int64?
    public var bytes: Int64?

    public init(milliseconds: Int64?, bytes: Int64?) {
        self.milliseconds = milliseconds
        self.bytes = bytes
    }
}
