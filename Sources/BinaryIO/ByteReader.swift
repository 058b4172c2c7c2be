/// A bounds-checked cursor over bytes: big-endian integers, Kafka/protobuf zigzag varints,
/// byte runs (fixed, length-prefixed, to the end), NUL-terminated UTF-8 strings. Running short,
/// or a length or count that cannot be right, throws `Failure` made from a `ByteReadError`
/// naming the field and its offset, so a short or lying input can never index past the bytes
/// or size an allocation by itself.
///
/// Byte runs come back as slices of the input: no copy, they share its storage. The reader
/// is a struct over an array slice whose methods inline into the decoders: the pgoutput
/// decoder and the log reader run it per field.
///
/// Public rather than `package`, as are the writer and `ByteReadError`: the compiler does not
/// make the bodies of `@inlinable package` declarations available to other modules, and
/// without inlining the decoder runs at half speed. The target is not a product, so nothing
/// outside the package sees them.
public struct ByteReader<Failure: ByteReadFailure> {
    /// The input; indices are the underlying array's, and offsets count from the first.
    public let bytes: ArraySlice<UInt8>
    /// The index in `bytes` of the next byte. The reader is just these two values, so that
    /// the decoders keep it in registers.
    @usableFromInline var cursor: Int

    /// Reads `bytes`; offsets count from its first byte.
    @inlinable
    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.cursor = bytes.startIndex
    }

    /// Reads `bytes[start..<end]` (clamped to the array); offsets count from the array's
    /// first byte, so they are positions in the whole buffer.
    @inlinable
    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        let upper = max(0, min(end ?? bytes.count, bytes.count))
        // The slice starts at the array's start, so offsets are positions in the array; the
        // cursor starts at `start` and only moves forward, so nothing before it is read.
        self.bytes = bytes[0..<upper]
        self.cursor = max(0, min(start, upper))
    }

    /// The index in `bytes` of the next byte.
    @inlinable public var index: Int { cursor }
    /// Offset of the next byte from the start of the input.
    @inlinable public var offset: Int { cursor &- bytes.startIndex }
    @inlinable public var remaining: Int { bytes.endIndex &- cursor }
    @inlinable public var isAtEnd: Bool { cursor >= bytes.endIndex }

    /// The error to throw for a problem at `offset` (default: the next byte).
    @inlinable
    public func failure(_ code: ByteReadError.Code, at offset: Int? = nil, _ detail: String) -> Failure {
        Failure(ByteReadError(code, at: offset ?? self.offset, detail))
    }

    /// Fails unless `count` more bytes are there.
    @inlinable @inline(__always)
    public func require(_ count: Int, _ field: StaticString) throws(Failure) {
        guard count >= 0, remaining >= count else { throw truncated(count, field) }
    }

    @usableFromInline
    func truncated(_ count: Int, _ field: StaticString) -> Failure {
        failure(.truncated, "\(field) needs \(count) byte\(count == 1 ? "" : "s"), \(remaining) left")
    }

    /// Fails unless at least `count × minimumBytes` bytes are left: run before reserving room
    /// for `count` items, so an untrusted count cannot size an allocation.
    @inlinable
    public func requireRoom(forItems count: Int, minimumBytes: Int, _ field: StaticString, countOffset: Int? = nil) throws(Failure) {
        let (needed, overflow) = count.multipliedReportingOverflow(by: minimumBytes)
        guard !overflow, count >= 0, needed <= remaining else {
            throw failure(
                .truncated, at: countOffset,
                "\(field) \(count) needs at least \(minimumBytes) byte\(minimumBytes == 1 ? "" : "s") each, \(remaining) left")
        }
    }

    // MARK: Integers

    /// A big-endian integer.
    @inlinable @inline(__always)
    public mutating func readInteger<T: FixedWidthInteger>(_ field: StaticString = "integer", as _: T.Type = T.self) throws(Failure) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw truncated(size, field) }
        let start = cursor &- bytes.startIndex
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: T.self) }
        cursor &+= size
        return T(bigEndian: raw)
    }

    /// The big-endian integer `skip` bytes after the next one, without moving.
    @inlinable
    public func peekInteger<T: FixedWidthInteger>(_ field: StaticString = "integer", as _: T.Type = T.self, skipping skip: Int = 0) throws(Failure) -> T {
        var copy = self
        try copy.skip(skip, field)
        return try copy.readInteger(field)
    }

    @inlinable @inline(__always)
    public mutating func readByte(_ field: StaticString = "byte") throws(Failure) -> UInt8 {
        guard cursor < bytes.endIndex else { throw truncated(1, field) }
        // Checked just above: read without the slice subscript's second bounds check.
        let start = cursor &- bytes.startIndex
        let byte = bytes.withUnsafeBytes { $0[start] }
        cursor &+= 1
        return byte
    }

    /// A byte that must be 0 (false) or 1 (true): accepting other values would make
    /// decoding lossy.
    @inlinable @inline(__always)
    public mutating func readBool(_ field: StaticString) throws(Failure) -> Bool {
        let at = offset
        switch try readByte(field) {
        case 0: return false
        case 1: return true
        case let other: throw failure(.invalidValue, at: at, "\(field) must be 0 or 1, found \(other)")
        }
    }

    /// A big-endian Int32 length or count that must not be negative.
    @inlinable @inline(__always)
    public mutating func readLength(_ field: StaticString) throws(Failure) -> Int {
        let at = offset
        let value = try readInteger(field, as: Int32.self)
        guard value >= 0 else { throw failure(.invalidLength, at: at, "\(field) is negative (\(value))") }
        return Int(value)
    }

    /// A big-endian Int16 count that must not be negative.
    @inlinable @inline(__always)
    public mutating func readCount16(_ field: StaticString) throws(Failure) -> Int {
        let at = offset
        let value = try readInteger(field, as: Int16.self)
        guard value >= 0 else { throw failure(.invalidLength, at: at, "\(field) is negative (\(value))") }
        return Int(value)
    }

    /// Zigzag varint of at most 5 bytes (Kafka's `varint`, protobuf `sint32`).
    @inlinable
    public mutating func readVarint(_ field: StaticString = "varint") throws(Failure) -> Int32 {
        var raw: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            let byte = try readByte(field)
            if shift == 28 && byte > 0x0F {
                throw failure(.malformedVarint, at: offset - 1, "\(field) longer than 5 bytes")
            }
            raw |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Zigzag varlong of at most 10 bytes (Kafka's `varlong`, protobuf `sint64`).
    @inlinable
    public mutating func readVarlong(_ field: StaticString = "varlong") throws(Failure) -> Int64 {
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte(field)
            if shift == 63 && byte > 0x01 {
                throw failure(.malformedVarint, at: offset - 1, "\(field) longer than 10 bytes")
            }
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    // MARK: Byte runs

    @inlinable @inline(__always)
    public mutating func readBytes(count: Int, _ field: StaticString = "byte field") throws(Failure) -> ArraySlice<UInt8> {
        try require(count, field)
        let slice = bytes[cursor..<(cursor &+ count)]
        cursor &+= count
        return slice
    }

    /// A byte run preceded by its big-endian length as a `Length`.
    @inlinable
    public mutating func readLengthPrefixed<Length: FixedWidthInteger>(
        _ field: StaticString = "byte field", lengthAs _: Length.Type
    ) throws(Failure) -> ArraySlice<UInt8> {
        let at = offset
        let length = try readInteger(field, as: Length.self)
        guard length >= 0, let count = Int(exactly: length) else {
            throw failure(.invalidLength, at: at, "\(field) length is \(length)")
        }
        return try readBytes(count: count, field)
    }

    /// A byte run preceded by its big-endian length as a `Length`, where the length value
    /// `absent` stands for no bytes at all (nil).
    @inlinable
    public mutating func readLengthPrefixed<Length: FixedWidthInteger>(
        _ field: StaticString = "byte field", lengthAs type: Length.Type, absent: Length
    ) throws(Failure) -> ArraySlice<UInt8>? {
        if try peekInteger(field, as: Length.self) == absent {
            cursor &+= MemoryLayout<Length>.size
            return nil
        }
        return try readLengthPrefixed(field, lengthAs: type)
    }

    @inlinable
    public mutating func skip(_ count: Int, _ field: StaticString = "skipped field") throws(Failure) {
        try require(count, field)
        cursor &+= count
    }

    /// Everything left.
    @inlinable
    public mutating func readRest() -> ArraySlice<UInt8> {
        let slice = bytes[cursor...]
        cursor = bytes.endIndex
        return slice
    }

    /// A NUL-terminated string that must be valid UTF-8: invalid bytes are an error rather
    /// than repaired with replacement characters (which would be silently lossy).
    @inlinable
    public mutating func readString(_ field: StaticString) throws(Failure) -> String {
        let start = cursor
        guard let nul = bytes[cursor...].firstIndex(of: 0) else {
            throw failure(.unterminatedString, "\(field) has no terminating NUL in the \(remaining) bytes left")
        }
        guard let string = String(validating: bytes[start..<nul], as: UTF8.self) else {
            throw failure(.invalidUTF8, "\(field) is not valid UTF-8")
        }
        cursor = nul &+ 1
        return string
    }

    /// Fails unless every byte was read.
    @inlinable
    public func expectEnd() throws(Failure) {
        guard remaining == 0 else {
            throw failure(.trailingBytes, "\(remaining) byte\(remaining == 1 ? "" : "s") after the last field")
        }
    }
}
