// SegmentLog: a transactional append-only log whose files are byte-compatible with
// Apache Kafka's on-disk format.

/// Every failure of the segment log. Bytes read from disk that do not check out become one of
/// these (never a trap), so a reader can name the file and position of the damage.
public struct SegmentLogError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong; extensible like an enum that callers may switch over with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Fewer bytes than a field or length prefix announced.
        public static let truncated = Code("truncated")
        /// A varint longer than its type allows.
        public static let malformedVarint = Code("malformedVarint")
        /// A length, count or field value that cannot be right.
        public static let malformedBatch = Code("malformedBatch")
        public static let unsupportedMagic = Code("unsupportedMagic")
        public static let unsupportedCompression = Code("unsupportedCompression")
        public static let crcMismatch = Code("crcMismatch")
        public static let decompressionFailed = Code("decompressionFailed")
        /// Decompressed data would exceed the configured bound (a decompression bomb).
        public static let decompressionLimitExceeded = Code("decompressionLimitExceeded")
        /// Damage inside a segment that is not a torn tail: valid data follows it.
        public static let corruptSegment = Code("corruptSegment")
        public static let corruptIndex = Code("corruptIndex")
        public static let corruptTransactionLog = Code("corruptTransactionLog")
        public static let corruptStateFile = Code("corruptStateFile")
        public static let invalidTopicName = Code("invalidTopicName")
        public static let invalidArgument = Code("invalidArgument")
        /// Another writer on the same log has a newer epoch: this one must stop.
        public static let producerFenced = Code("producerFenced")
        /// Another process holds the log directory's writer lock.
        public static let logLocked = Code("logLocked")
        public static let outOfOrderSequence = Code("outOfOrderSequence")
        /// An operation that needs (or forbids) an open transaction.
        public static let invalidTransactionState = Code("invalidTransactionState")
        public static let writerClosed = Code("writerClosed")
        public static let io = Code("io")
    }

    public var code: Code
    public var message: String
    /// The file the problem was found in, when there is one.
    public var path: String?
    /// The byte position in `path` (or the log offset, as `message` says) of the problem.
    public var position: Int64?

    public init(_ code: Code, _ message: String, path: String? = nil, position: Int64? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.position = position
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let path { text += " (file \(path)" + (position.map { " at byte \($0)" } ?? "") + ")" }
        else if let position { text += " (at \(position))" }
        return text
    }

    /// The same error located in a file, keeping any location it already had.
    func located(path: String, position: Int64?) -> SegmentLogError {
        var copy = self
        if copy.path == nil { copy.path = path }
        if copy.position == nil { copy.position = position }
        return copy
    }
}
