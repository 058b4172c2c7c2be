/// A bounds-checked big-endian cursor over bytes. Running short throws `.truncated`, so a
/// length read from disk can never index past the buffer or size an allocation by itself.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var index: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.index = start
        self.end = min(end ?? bytes.count, bytes.count)
    }

    var remaining: Int { end - index }
    var isAtEnd: Bool { index >= end }

    mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws(SegmentLogError) {
        guard count >= 0, count <= remaining else {
            throw SegmentLogError(.truncated, "\(what()): needs \(count) bytes, \(remaining) left", position: Int64(index))
        }
    }

    mutating func readUInt8() throws(SegmentLogError) -> UInt8 {
        try require(1, "int8")
        defer { index += 1 }
        return bytes[index]
    }

    mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws(SegmentLogError) -> T {
        let size = MemoryLayout<T>.size
        try require(size, "int\(size * 8)")
        var value: T = 0
        for i in 0..<size { value = (value << 8) | T(truncatingIfNeeded: bytes[index + i]) }
        index += size
        return value
    }

    mutating func readBytes(_ count: Int) throws(SegmentLogError) -> [UInt8] {
        try require(count, "byte field")
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func skip(_ count: Int) throws(SegmentLogError) {
        try require(count, "skipped field")
        index += count
    }

    /// Zigzag varint of at most 5 bytes (Kafka's `varint`, protobuf `sint32`).
    mutating func readVarint() throws(SegmentLogError) -> Int32 {
        var raw: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            let byte = try readUInt8()
            if shift == 28 && byte > 0x0F {
                throw SegmentLogError(.malformedVarint, "varint longer than 5 bytes", position: Int64(index - 1))
            }
            raw |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Zigzag varlong of at most 10 bytes (Kafka's `varlong`, protobuf `sint64`).
    mutating func readVarlong() throws(SegmentLogError) -> Int64 {
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readUInt8()
            if shift == 63 && byte > 0x01 {
                throw SegmentLogError(.malformedVarint, "varlong longer than 10 bytes", position: Int64(index - 1))
            }
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }
}
