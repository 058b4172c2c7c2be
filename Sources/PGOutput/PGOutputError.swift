/// A replication frame or pgoutput message that does not follow the wire format.
///
/// Decoding never traps and never allocates by an untrusted length: every malformed input
/// ends here, naming the message, the byte offset (from the first byte of the frame or message
/// handed to the decoder, tag included) and what was wrong there.
public struct PGOutputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of malformation. Extensible: compare against the static constants.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The input is empty: there is not even a tag byte.
        public static let empty = Code(rawValue: "empty")
        /// The input ends before a field (or before a length or count it announced).
        public static let truncated = Code(rawValue: "truncated")
        /// Bytes are left over after the last field: the message is longer than its format.
        public static let trailingBytes = Code(rawValue: "trailingBytes")
        /// A negative length or count.
        public static let invalidLength = Code(rawValue: "invalidLength")
        /// A byte outside the values its field allows (a tuple column kind, a boolean,
        /// an Update's old-tuple marker).
        public static let invalidValue = Code(rawValue: "invalidValue")
        /// A string field without its terminating NUL.
        public static let unterminatedString = Code(rawValue: "unterminatedString")
        /// A string field that is not valid UTF-8.
        public static let invalidUTF8 = Code(rawValue: "invalidUTF8")

        public var description: String { rawValue }
    }

    public var code: Code
    /// The message or frame being decoded, e.g. "Insert", "XLogData".
    public var messageName: String
    /// Byte offset of the offending field from the start of the decoded input.
    public var offset: Int
    /// What was expected and found, for logs.
    public var detail: String

    public init(code: Code, messageName: String, offset: Int, detail: String) {
        self.code = code
        self.messageName = messageName
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        "malformed \(messageName) at byte \(offset) (\(code)): \(detail)"
    }
}
