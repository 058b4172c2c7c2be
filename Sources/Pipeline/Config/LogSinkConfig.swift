/// `sink.log`: the Kafka-format log the pipeline writes.
public struct LogSinkConfig: Sendable, Equatable {
    public enum Compression: String, Sendable, CaseIterable {
        case zstd, none
    }

    public var dir: String
    public var partitions: Int
    public var compression: Compression
    /// zstd level; nil with `compression: none`.
    public var compressionLevel: Int?
    public var segmentBytes: ByteSize
    public var segmentTime: ConfigDuration
    /// Delete segments older than this; nil keeps everything.
    public var retention: ConfigDuration?
    /// Delete the oldest segments of a partition above this size; nil: no limit.
    public var retentionBytes: ByteSize?
    /// Least time from one group commit to the next while transactions keep arriving.
    public var minCommitInterval: ConfigDuration
    /// zstd level sealed segments are recompressed at in the background; nil: left as written.
    public var recompressionLevel: Int?

    public init(
        dir: String, partitions: Int = 1, compression: Compression = .zstd, compressionLevel: Int? = 3,
        segmentBytes: ByteSize = ByteSize("1GiB")!, segmentTime: ConfigDuration = ConfigDuration("7d")!,
        retention: ConfigDuration? = nil, retentionBytes: ByteSize? = nil,
        minCommitInterval: ConfigDuration = LogSinkConfig.defaultMinCommitInterval, recompressionLevel: Int? = nil
    ) {
        self.dir = dir
        self.partitions = partitions
        self.compression = compression
        self.compressionLevel = compression == .zstd ? compressionLevel : nil
        self.segmentBytes = segmentBytes
        self.segmentTime = segmentTime
        self.retention = retention
        self.retentionBytes = retentionBytes
        self.minCommitInterval = minCommitInterval
        self.recompressionLevel = recompressionLevel
    }
}

extension LogSinkConfig {
    static let defaultCompressionLevel = 3
    public static let defaultMinCommitInterval = ConfigDuration("5ms")!

    enum Fields {
        static let dir = FieldSpec("dir", ValueSpec<String>.string, .required, doc: "Directory of the log; relative paths are from the working directory.")
        static let partitions = FieldSpec(
            "partitions", .integer(1...10_000), .defaulted(1, shown: .number("1")), doc: "Partitions per topic (at least 1).")
        static let compression = FieldSpec(
            "compression", .enumeration, .defaulted(Compression.zstd, shown: .string("zstd")), doc: "Batch compression: zstd or none.")
        static let compressionLevel = FieldSpec(
            "compression_level", .integer(1...22), .optional, doc: "zstd level, 1 (fast) to 22 (small). Default 3.")
        static let segmentBytes = FieldSpec(
            "segment_bytes", .byteSize, .defaulted(ByteSize("1GiB")!, shown: .string("1GiB")),
            doc: "Roll to a new segment file above this size.")
        static let segmentTime = FieldSpec(
            "segment_ms", .duration, .defaulted(ConfigDuration("7d")!, shown: .string("7d")),
            doc: "Roll to a new segment file after this long (Kafka's segment.ms; written as a duration such as 1h).")
        static let retention = FieldSpec("retention", .duration, .optional, doc: "Delete segments older than this. Default: keep all.")
        static let retentionBytes = FieldSpec(
            "retention_bytes", .byteSize, .optional, doc: "Delete a partition's oldest segments above this size. Default: no limit.")
        static let minCommitInterval = FieldSpec(
            "min_commit_interval", .duration, .defaulted(defaultMinCommitInterval, shown: .string("5ms")),
            doc: "Least time between two commits (each fsyncs) while transactions keep arriving; a transaction after a quiet spell commits at once. Lower: less latency, more fsyncs; 0ms commits at every pause.")
        static let recompressionLevel = FieldSpec(
            "recompression_level", .integer(1...22), .optional,
            doc: "Recompress sealed (rolled) segments in the background at this zstd level, on a low-priority thread using at most half a core; offsets, batches and markers stay as they are. 19 brings segments to about the size of the values compressed as one stream. Default: off.")
    }

    static let spec = ObjectSpec(
        name: "sink.log", doc: "A local append-only log in Apache Kafka's on-disk format, with transactions.",
        fields: [Fields.dir.schema, Fields.partitions.schema, Fields.compression.schema, Fields.compressionLevel.schema,
                 Fields.segmentBytes.schema, Fields.segmentTime.schema, Fields.retention.schema, Fields.retentionBytes.schema,
                 Fields.minCommitInterval.schema, Fields.recompressionLevel.schema])

    static let minimumSegmentBytes: Int64 = 1 << 20

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> LogSinkConfig? {
        let dir = reader.read(Fields.dir, &context), partitions = reader.read(Fields.partitions, &context)
        let compression = reader.read(Fields.compression, &context)
        var level = reader.read(Fields.compressionLevel, &context)
        if compression == LogSinkConfig.Compression.none, level != nil, let location = reader.keyLocation(Fields.compressionLevel.name) {
            context.log.error(.conflictingOptions, "compression_level applies to zstd only", at: location,
                              length: Fields.compressionLevel.name.count, hint: "remove it, or set compression: zstd")
            return nil
        }
        if compression == .zstd, level == nil, !reader.has(Fields.compressionLevel.name) {
            level = defaultCompressionLevel
            reader.show(Fields.compressionLevel.name, .number(String(defaultCompressionLevel)))
        }
        let segmentBytes = reader.read(Fields.segmentBytes, &context), segmentTime = reader.read(Fields.segmentTime, &context)
        let retention = reader.read(Fields.retention, &context), retentionBytes = reader.read(Fields.retentionBytes, &context)
        let minCommitInterval = reader.read(Fields.minCommitInterval, &context)
        let recompressionLevel = reader.read(Fields.recompressionLevel, &context)
        if compression == LogSinkConfig.Compression.none, recompressionLevel != nil, let location = reader.keyLocation(Fields.recompressionLevel.name) {
            context.log.error(.conflictingOptions, "recompression_level applies to zstd only", at: location,
                              length: Fields.recompressionLevel.name.count, hint: "remove it, or set compression: zstd")
            return nil
        }
        if let segmentBytes, segmentBytes.bytes < minimumSegmentBytes {
            context.log.error(.invalidValue, "segment_bytes must be at least 1MiB", at: reader.keyLocation(Fields.segmentBytes.name) ?? reader.location)
            return nil
        }
        guard let dir, let partitions, let compression, let segmentBytes, let segmentTime, let minCommitInterval else { return nil }
        if reader.has(Fields.retention.name) && retention == nil || reader.has(Fields.retentionBytes.name) && retentionBytes == nil
            || reader.has(Fields.compressionLevel.name) && level == nil
            || reader.has(Fields.recompressionLevel.name) && recompressionLevel == nil {
            return nil
        }
        return LogSinkConfig(
            dir: dir, partitions: partitions, compression: compression, compressionLevel: level, segmentBytes: segmentBytes,
            segmentTime: segmentTime, retention: retention, retentionBytes: retentionBytes, minCommitInterval: minCommitInterval,
            recompressionLevel: recompressionLevel)
    }
}
