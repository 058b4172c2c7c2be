/// Bytes that do not hold what a reader expected: where (`offset`, from the start of the
/// reader's input) and what (`code`, `detail`). Each module turns it into its own error at
/// its boundary (`ByteReadFailure`), keeping the code and the offset.
public struct ByteReadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of malformation. Extensible: compare against the static constants.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The input ends before a field, or before the bytes a length or count announced.
        public static let truncated = Code(rawValue: "truncated")
        /// Bytes are left over after the last field.
        public static let trailingBytes = Code(rawValue: "trailingBytes")
        /// A negative length or count.
        public static let invalidLength = Code(rawValue: "invalidLength")
        /// A value outside what its field allows.
        public static let invalidValue = Code(rawValue: "invalidValue")
        /// A NUL-terminated string without its NUL.
        public static let unterminatedString = Code(rawValue: "unterminatedString")
        /// A string that is not valid UTF-8.
        public static let invalidUTF8 = Code(rawValue: "invalidUTF8")
        /// A varint longer than its type allows.
        public static let malformedVarint = Code(rawValue: "malformedVarint")
    }

    public var code: Code
    /// Byte offset of the offending field from the start of the reader's input.
    public var offset: Int
    /// The field and what was expected and found there, e.g. "final_lsn needs 8 bytes, 2 left".
    public var detail: String

    public init(_ code: Code, at offset: Int, _ detail: String) {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public var description: String { "\(code) at byte \(offset): \(detail)" }
}

/// A module's own error, made from a `ByteReadError`: a `ByteReader<Failure>` throws
/// `Failure`, so code reading bytes throws its module's typed error with no mapping at each
/// call, and the mapping is written once, in the conformance.
public protocol ByteReadFailure: Error {
    init(_ error: ByteReadError)
}

extension ByteReadError: ByteReadFailure {
    public init(_ error: ByteReadError) { self = error }
}
