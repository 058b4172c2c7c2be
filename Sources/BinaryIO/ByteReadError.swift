/// Bytes that do not hold what a reader expected: where (`offset`, from the start of the
/// reader's input) and what (`code`, `detail`). Each module turns it into its own error at
/// its boundary (`ByteReadFailure`), keeping the code and the offset.
package struct ByteReadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of malformation. Extensible: compare against the static constants.
    package struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package var rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        /// The input ends before a field, or before the bytes a length or count announced.
        package static let truncated = Code(rawValue: "truncated")
        /// Bytes are left over after the last field.
        package static let trailingBytes = Code(rawValue: "trailingBytes")
        /// A negative length or count.
        package static let invalidLength = Code(rawValue: "invalidLength")
        /// A value outside what its field allows.
        package static let invalidValue = Code(rawValue: "invalidValue")
        /// A NUL-terminated string without its NUL.
        package static let unterminatedString = Code(rawValue: "unterminatedString")
        /// A string that is not valid UTF-8.
        package static let invalidUTF8 = Code(rawValue: "invalidUTF8")
        /// A varint longer than its type allows.
        package static let malformedVarint = Code(rawValue: "malformedVarint")
    }

    package var code: Code
    /// Byte offset of the offending field from the start of the reader's input.
    package var offset: Int
    /// The field and what was expected and found there, e.g. "final_lsn needs 8 bytes, 2 left".
    package var detail: String

    package init(_ code: Code, at offset: Int, _ detail: String) {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    package var description: String { "\(code) at byte \(offset): \(detail)" }
}

/// A module's own error, made from a `ByteReadError`: a `ByteReader<Failure>` throws
/// `Failure`, so code reading bytes throws its module's typed error with no mapping at each
/// call, and the mapping is written once, in the conformance.
package protocol ByteReadFailure: Error {
    init(_ error: ByteReadError)
}

extension ByteReadError: ByteReadFailure {
    package init(_ error: ByteReadError) { self = error }
}
