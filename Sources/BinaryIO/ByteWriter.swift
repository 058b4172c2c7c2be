/// The writing side of `ByteReader`: big-endian integers, zigzag varints and length-prefixed
/// byte runs appended to a growing byte array.
extension Array where Element == UInt8 {
    @inlinable @inline(__always)
    public mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// Overwrites the bytes at `position` with `value`, big-endian (a length written after
    /// what it measures).
    @inlinable
    public mutating func setInteger<T: FixedWidthInteger>(_ value: T, at position: Int) {
        Swift.withUnsafeBytes(of: value.bigEndian) { raw in
            for i in 0..<raw.count { self[position + i] = raw[i] }
        }
    }

    /// `bytes` preceded by their count as a big-endian `Length`; nil is written as `absent`.
    @inlinable
    public mutating func appendLengthPrefixed<Length: FixedWidthInteger>(
        _ bytes: some Collection<UInt8>, lengthAs _: Length.Type
    ) {
        appendInteger(Length(bytes.count))
        append(contentsOf: bytes)
    }

    @inlinable
    public mutating func appendLengthPrefixed<Length: FixedWidthInteger>(
        _ bytes: (some Collection<UInt8>)?, lengthAs type: Length.Type, absent: Length
    ) {
        guard let bytes else { return appendInteger(absent) }
        appendLengthPrefixed(bytes, lengthAs: type)
    }

    @inlinable
    public mutating func appendVarint(_ value: Int32) {
        var raw = UInt32(bitPattern: (value << 1) ^ (value >> 31))
        while raw >= 0x80 {
            append(UInt8(truncatingIfNeeded: raw) | 0x80)
            raw >>= 7
        }
        append(UInt8(raw))
    }

    @inlinable
    public mutating func appendVarlong(_ value: Int64) {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while raw >= 0x80 {
            append(UInt8(truncatingIfNeeded: raw) | 0x80)
            raw >>= 7
        }
        append(UInt8(raw))
    }
}

/// Bytes a zigzag varint of `value` takes, so a length can be written before what it measures.
@inlinable
public func varintSize(_ value: Int32) -> Int {
    var raw = UInt32(bitPattern: (value << 1) ^ (value >> 31))
    var size = 1
    while raw >= 0x80 { raw >>= 7; size += 1 }
    return size
}

@inlinable
public func varlongSize(_ value: Int64) -> Int {
    var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
    var size = 1
    while raw >= 0x80 { raw >>= 7; size += 1 }
    return size
}
