import BinaryIO

/// The shared byte reader as the decoders use it: it fails with `ByteReadError`, which the
/// public entry points (`PGOutputMessage.decode`, `ReplicationFrame.decode`,
/// `StandbyStatusUpdate.decode`) turn into a `PGOutputError` naming the message.
typealias MessageReader = ByteReader<ByteReadError>

extension ByteReader {
    @inline(__always)
    mutating func readLSN(_ field: StaticString) throws(Failure) -> LSN {
        LSN(try readInteger(field, as: UInt64.self))
    }

    @inline(__always)
    mutating func readTimestamp(_ field: StaticString) throws(Failure) -> PostgresTimestamp {
        PostgresTimestamp(rawValue: try readInteger(field, as: Int64.self))
    }
}

extension PGOutputError {
    /// `error`, found while decoding the message or frame called `messageName`.
    init(_ error: ByteReadError, messageName: String) {
        let code: Code =
            switch error.code {
            case .truncated: .truncated
            case .trailingBytes: .trailingBytes
            case .invalidLength: .invalidLength
            case .unterminatedString: .unterminatedString
            case .invalidUTF8: .invalidUTF8
            default: .invalidValue
            }
        self.init(code: code, messageName: messageName, offset: error.offset, detail: error.detail)
    }
}

/// The writing side, for the encoder (tests and tools).
extension Array where Element == UInt8 {
    mutating func appendLSN(_ lsn: LSN) { appendInteger(lsn.rawValue) }
    mutating func appendTimestamp(_ timestamp: PostgresTimestamp) { appendInteger(timestamp.rawValue) }
    mutating func appendBool(_ value: Bool) { append(value ? 1 : 0) }

    /// A NUL-terminated string. A string holding a NUL cannot round-trip: Postgres never sends one.
    mutating func appendString(_ string: String) {
        append(contentsOf: string.utf8)
        append(0)
    }

    /// An Int16 count. Values beyond Int16 cannot be encoded: the encoder is for tests and tools.
    mutating func appendCount16(_ count: Int) {
        precondition(count <= Int16.max, "pgoutput counts columns in an Int16")
        appendInteger(Int16(count))
    }

    mutating func appendLength(_ count: Int) {
        precondition(count <= Int32.max, "pgoutput lengths are Int32")
        appendInteger(Int32(count))
    }
}
