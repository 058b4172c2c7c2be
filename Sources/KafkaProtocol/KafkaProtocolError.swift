/// A request, response or frame that does not follow the Kafka wire format.
///
/// Decoding never traps on input: every short read, impossible length, bad value or unread
/// byte becomes one of these, with the offset of the field that was wrong so that a server can
/// log something useful before it closes the connection.
public struct KafkaProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of malformation. Extensible: compare against the static constants.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The input ends before a field, or before the bytes a length announced.
        public static let truncated = Code(rawValue: "truncated")
        /// Bytes are left after the last field (tagged fields are read, never left over).
        public static let trailingBytes = Code(rawValue: "trailingBytes")
        /// A length or count that is negative (other than the null marker) or larger than the
        /// input could hold.
        public static let invalidLength = Code(rawValue: "invalidLength")
        /// A null where the field is not nullable in this version.
        public static let unexpectedNull = Code(rawValue: "unexpectedNull")
        /// A value outside what its field allows (a boolean that is not 0 or 1, an isolation
        /// level other than 0 or 1, a varint longer than its type).
        public static let invalidValue = Code(rawValue: "invalidValue")
        /// A string that is not valid UTF-8.
        public static let invalidUTF8 = Code(rawValue: "invalidUTF8")
        /// A frame whose size prefix is above the decoder's maximum.
        public static let frameTooLarge = Code(rawValue: "frameTooLarge")
        /// A message type asked to decode or encode a version it does not implement.
        public static let unsupportedVersion = Code(rawValue: "unsupportedVersion")

        public var description: String { rawValue }
    }

    public var code: Code
    /// The message or frame being decoded, e.g. "FetchRequest", "RequestHeader".
    public var messageName: String
    /// Byte offset of the offending field from the first byte of the decoded input.
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
        "\(messageName): \(code) at byte \(offset): \(detail)"
    }
}
