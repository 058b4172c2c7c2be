/// Big-endian and varint encoding onto a growing byte array; the inverse of `ByteReader`.
extension Array where Element == UInt8 {
    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        Swift.withUnsafeBytes(of: &big) { append(contentsOf: $0) }
    }

    mutating func setInteger<T: FixedWidthInteger>(_ value: T, at position: Int) {
        var big = value.bigEndian
        Swift.withUnsafeBytes(of: &big) { raw in
            for i in 0..<raw.count { self[position + i] = raw[i] }
        }
    }

    mutating func appendVarint(_ value: Int32) {
        var raw = UInt32(bitPattern: (value << 1) ^ (value >> 31))
        while raw >= 0x80 {
            append(UInt8(truncatingIfNeeded: raw) | 0x80)
            raw >>= 7
        }
        append(UInt8(raw))
    }

    mutating func appendVarlong(_ value: Int64) {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while raw >= 0x80 {
            append(UInt8(truncatingIfNeeded: raw) | 0x80)
            raw >>= 7
        }
        append(UInt8(raw))
    }
}

/// Bytes a zigzag varint of `value` takes, so record lengths can be written before the record.
func varintSize(_ value: Int32) -> Int {
    var raw = UInt32(bitPattern: (value << 1) ^ (value >> 31))
    var size = 1
    while raw >= 0x80 { raw >>= 7; size += 1 }
    return size
}

func varlongSize(_ value: Int64) -> Int {
    var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
    var size = 1
    while raw >= 0x80 { raw >>= 7; size += 1 }
    return size
}
