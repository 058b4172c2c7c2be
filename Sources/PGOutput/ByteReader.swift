/// A cursor over the bytes of one frame or message: big-endian integers, NUL-terminated
/// UTF-8 strings and length-prefixed byte runs, each checked against the bytes left so that a
/// short or lying input becomes a `PGOutputError` naming the field and its offset.
///
/// Byte runs are returned as slices of the input: no copy, they share its storage.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    private(set) var index: Int
    /// Names the message in errors.
    let messageName: StaticString

    init(_ bytes: ArraySlice<UInt8>, messageName: StaticString) {
        self.bytes = bytes
        self.index = bytes.startIndex
        self.messageName = messageName
    }

    /// Offset of the next byte from the start of the input.
    var offset: Int { index &- bytes.startIndex }
    var remaining: Int { bytes.endIndex &- index }

    func error(_ code: PGOutputError.Code, at offset: Int? = nil, _ detail: String) -> PGOutputError {
        PGOutputError(code: code, messageName: messageName.description, offset: offset ?? self.offset, detail: detail)
    }

    @inline(__always)
    private func requireBytes(_ count: Int, for field: StaticString) throws(PGOutputError) {
        guard remaining >= count else {
            throw error(.truncated, "\(field) needs \(count) byte\(count == 1 ? "" : "s"), \(remaining) left")
        }
    }

    @inline(__always)
    mutating func readInteger<T: FixedWidthInteger>(_ field: StaticString, as _: T.Type = T.self) throws(PGOutputError) -> T {
        let size = MemoryLayout<T>.size
        try requireBytes(size, for: field)
        let start = index &- bytes.startIndex
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: T.self) }
        index &+= size
        return T(bigEndian: raw)
    }

    @inline(__always)
    mutating func readByte(_ field: StaticString) throws(PGOutputError) -> UInt8 {
        try requireBytes(1, for: field)
        let byte = bytes[index]
        index &+= 1
        return byte
    }

    mutating func readLSN(_ field: StaticString) throws(PGOutputError) -> LSN {
        LSN(try readInteger(field, as: UInt64.self))
    }

    mutating func readTimestamp(_ field: StaticString) throws(PGOutputError) -> PostgresTimestamp {
        PostgresTimestamp(rawValue: try readInteger(field, as: Int64.self))
    }

    /// A byte that must be 0 (false) or 1 (true): Postgres writes nothing else, and accepting
    /// other values would make decoding lossy.
    mutating func readBool(_ field: StaticString) throws(PGOutputError) -> Bool {
        let at = offset
        switch try readByte(field) {
        case 0: return false
        case 1: return true
        case let other: throw error(.invalidValue, at: at, "\(field) must be 0 or 1, found \(other)")
        }
    }

    /// An Int32 length or count that must not be negative.
    mutating func readLength(_ field: StaticString) throws(PGOutputError) -> Int {
        let at = offset
        let value = try readInteger(field, as: Int32.self)
        guard value >= 0 else { throw error(.invalidLength, at: at, "\(field) is negative (\(value))") }
        return Int(value)
    }

    /// An Int16 count that must not be negative.
    mutating func readCount16(_ field: StaticString) throws(PGOutputError) -> Int {
        let at = offset
        let value = try readInteger(field, as: Int16.self)
        guard value >= 0 else { throw error(.invalidLength, at: at, "\(field) is negative (\(value))") }
        return Int(value)
    }

    /// Fails unless at least `count × minimumBytes` bytes are left: run before reserving room
    /// for `count` items, so an untrusted count cannot size an allocation.
    func requireRoom(forItems count: Int, minimumBytes: Int, _ field: StaticString, countOffset: Int) throws(PGOutputError) {
        let (needed, overflow) = count.multipliedReportingOverflow(by: minimumBytes)
        guard !overflow, needed <= remaining else {
            throw error(.truncated, at: countOffset, "\(field) \(count) needs at least \(minimumBytes) byte\(minimumBytes == 1 ? "" : "s") each, \(remaining) left")
        }
    }

    @inline(__always)
    mutating func readBytes(count: Int, _ field: StaticString) throws(PGOutputError) -> ArraySlice<UInt8> {
        try requireBytes(count, for: field)
        let slice = bytes[index..<(index &+ count)]
        index &+= count
        return slice
    }

    mutating func readRest() -> ArraySlice<UInt8> {
        let slice = bytes[index...]
        index = bytes.endIndex
        return slice
    }

    /// A NUL-terminated string. Postgres sends names and identifiers in the client encoding,
    /// which a replication client sets to UTF8: anything that is not valid UTF-8 is an error,
    /// rather than being repaired with replacement characters (which would be silently lossy).
    mutating func readString(_ field: StaticString) throws(PGOutputError) -> String {
        let start = index
        guard let nul = bytes[index...].firstIndex(of: 0) else {
            throw error(.unterminatedString, "\(field) has no terminating NUL in the \(remaining) bytes left")
        }
        guard let string = String(validating: bytes[start..<nul], as: UTF8.self) else {
            throw error(.invalidUTF8, "\(field) is not valid UTF-8")
        }
        index = nul &+ 1
        return string
    }

    func expectEnd() throws(PGOutputError) {
        guard remaining == 0 else {
            throw error(.trailingBytes, "\(remaining) byte\(remaining == 1 ? "" : "s") after the last field")
        }
    }
}

/// The writing side, for the encoder (tests and tools).
extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

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
