/// Every failure of the pipeline runtime: a code a program can match on, a message for a
/// person, and the error underneath when there is one (a `PostgresError`, a `SegmentLogError`).
/// Messages name what the pipeline was doing; they never carry a connection string.
public struct PipelineError: Error, CustomStringConvertible, @unchecked Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The pipeline file cannot be turned into a running pipeline.
        public static let configuration = Code("configuration")
        /// The server is not ready for this pipeline (preflight problems, each with its hint).
        public static let sourceNotReady = Code("source_not_ready")
        /// The source failed: replication, or reading the changelog.
        public static let source = Code("source")
        /// The source sent something this pipeline does not handle.
        public static let unsupportedSourceEvent = Code("unsupported_source_event")
        /// A stage (or the sink, for an event it cannot take) stopped the pipeline on an event.
        public static let stageFailed = Code("stage_failed")
        /// Writing, committing or syncing the sink failed.
        public static let sink = Code("sink")
        /// What the sink holds (a checkpoint, a position file, stage state) cannot be read.
        public static let checkpoint = Code("checkpoint")
        /// Spooling a streamed transaction to disk, or reading it back, failed.
        public static let spool = Code("spool")
        /// A replay asked for positions the changelog does not hold.
        public static let replayRange = Code("replay_range")
        /// A table cannot be snapshotted as asked (no primary key, not captured, a bad filter).
        public static let snapshot = Code("snapshot")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
