import NIOCore

/// A cursor over one request or response body (or a header): Kafka's fixed-width integers,
/// varints, strings, byte runs, arrays and tagged fields, each checked against the bytes left
/// so that a short or lying input becomes a `KafkaProtocolError` naming the field and its offset.
///
/// Whether strings, byte runs and arrays use the compact (varint) or the classic (Int16/Int32)
/// length prefix is a property of the message version, so it is set once, at creation: nested
/// structures read with the same reader inherit it.
///
/// Byte runs are returned as slices of the input: no copy, they share its storage.
/// Created only inside this module: the type is public so that message types can name it in
/// `KafkaStructure`'s requirements.
public struct KafkaReader {
    private(set) var buffer: ByteBuffer
    private let startIndex: Int
    /// Names the message in errors.
    let messageName: StaticString
    /// The version being read is a flexible one: compact lengths and tagged fields.
    var flexible: Bool

    init(_ buffer: ByteBuffer, messageName: StaticString, flexible: Bool) {
        self.buffer = buffer
        self.startIndex = buffer.readerIndex
        self.messageName = messageName
        self.flexible = flexible
    }

    /// Offset of the next byte from the start of the input.
    var offset: Int { buffer.readerIndex &- startIndex }
    var remaining: Int { buffer.readableBytes }

    func error(_ code: KafkaProtocolError.Code, at offset: Int? = nil, _ detail: String) -> KafkaProtocolError {
        KafkaProtocolError(code: code, messageName: messageName.description, offset: offset ?? self.offset, detail: detail)
    }

    // MARK: Fixed-width values

    mutating func readInteger<T: FixedWidthInteger>(_ field: StaticString, as _: T.Type = T.self) throws(KafkaProtocolError) -> T {
        guard let value = buffer.readInteger(as: T.self) else {
            let size = MemoryLayout<T>.size
            throw error(.truncated, "\(field) needs \(size) byte\(size == 1 ? "" : "s"), \(remaining) left")
        }
        return value
    }

    /// A byte that must be 0 or 1: Kafka writes nothing else, and accepting other values would
    /// make decoding lossy (a re-encoded request would differ from the one received).
    mutating func readBool(_ field: StaticString) throws(KafkaProtocolError) -> Bool {
        let at = offset
        switch try readInteger(field, as: UInt8.self) {
        case 0: return false
        case 1: return true
        case let other: throw error(.invalidValue, at: at, "\(field) must be 0 or 1, found \(other)")
        }
    }

    mutating func readUUID(_ field: StaticString) throws(KafkaProtocolError) -> KafkaUUID {
        guard remaining >= 16 else { throw error(.truncated, "\(field) needs 16 bytes, \(remaining) left") }
        let high: UInt64 = try readInteger(field)
        let low: UInt64 = try readInteger(field)
        return KafkaUUID(high: high, low: low)
    }

    // MARK: Varints

    /// An unsigned LEB128 varint of at most 32 bits (5 bytes).
    mutating func readUnsignedVarint(_ field: StaticString) throws(KafkaProtocolError) -> UInt32 {
        let at = offset
        var value: UInt32 = 0
        for index in 0..<5 {
            guard let byte = buffer.readInteger(as: UInt8.self) else {
                throw error(.truncated, at: at, "\(field) varint ends after \(index) byte\(index == 1 ? "" : "s")")
            }
            // The fifth byte has room for the top 4 bits only, and no continuation.
            if index == 4 && byte > 0x0F {
                throw error(.invalidValue, at: at, "\(field) varint does not fit in 32 bits")
            }
            value |= UInt32(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw error(.invalidValue, at: at, "\(field) varint does not fit in 32 bits")
    }

    /// An unsigned LEB128 varint of at most 64 bits (10 bytes).
    mutating func readUnsignedVarlong(_ field: StaticString) throws(KafkaProtocolError) -> UInt64 {
        let at = offset
        var value: UInt64 = 0
        for index in 0..<10 {
            guard let byte = buffer.readInteger(as: UInt8.self) else {
                throw error(.truncated, at: at, "\(field) varlong ends after \(index) byte\(index == 1 ? "" : "s")")
            }
            if index == 9 && byte > 0x01 {
                throw error(.invalidValue, at: at, "\(field) varlong does not fit in 64 bits")
            }
            value |= UInt64(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw error(.invalidValue, at: at, "\(field) varlong does not fit in 64 bits")
    }

    /// A zigzag-encoded signed varint (record headers, record fields).
    mutating func readVarint(_ field: StaticString) throws(KafkaProtocolError) -> Int32 {
        let raw = try readUnsignedVarint(field)
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A zigzag-encoded signed varlong.
    mutating func readVarlong(_ field: StaticString) throws(KafkaProtocolError) -> Int64 {
        let raw = try readUnsignedVarlong(field)
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    // MARK: Lengths

    /// The length prefix of a string (Int16), byte run or array (Int32) in a classic version,
    /// or the compact one (varint of length + 1) in a flexible version; nil for null.
    ///
    /// A length beyond the bytes left is an error here, before anything is allocated for it;
    /// `minimumBytesEach` applies the same bound to array counts (each element takes at least
    /// that many bytes).
    private mutating func readLength(
        _ field: StaticString, classicWidth: ClassicLengthWidth, compact: Bool, minimumBytesEach: Int
    ) throws(KafkaProtocolError) -> Int? {
        let at = offset
        let length: Int
        if compact {
            let raw = try readUnsignedVarint(field)
            if raw == 0 { return nil }
            length = Int(raw - 1)
        } else {
            let raw: Int
            switch classicWidth {
            case .int16: raw = Int(try readInteger(field, as: Int16.self))
            case .int32: raw = Int(try readInteger(field, as: Int32.self))
            }
            if raw == -1 { return nil }
            guard raw >= 0 else { throw error(.invalidLength, at: at, "\(field) has length \(raw)") }
            length = raw
        }
        guard length <= Int(Int32.max) else {
            throw error(.invalidLength, at: at, "\(field) has length \(length), above Int32.max")
        }
        let (needed, overflow) = length.multipliedReportingOverflow(by: minimumBytesEach)
        guard !overflow, needed <= remaining else {
            throw error(.invalidLength, at: at, "\(field) announces \(length) but only \(remaining) byte\(remaining == 1 ? "" : "s") are left")
        }
        return length
    }

    private enum ClassicLengthWidth { case int16, int32 }

    private func nullError(_ field: StaticString, at: Int) -> KafkaProtocolError {
        error(.unexpectedNull, at: at, "\(field) is null but not nullable in this version")
    }

    // MARK: Strings and bytes

    /// A nullable string. `compact` overrides the version's rule: the request header's client id
    /// keeps the classic Int16 length even in flexible headers.
    mutating func readNullableString(_ field: StaticString, compact: Bool? = nil) throws(KafkaProtocolError) -> String? {
        let at = offset
        guard let length = try readLength(field, classicWidth: .int16, compact: compact ?? flexible, minimumBytesEach: 1) else {
            return nil
        }
        let bytes = buffer.readableBytesView.prefix(length)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw error(.invalidUTF8, at: at, "\(field) is not valid UTF-8")
        }
        buffer.moveReaderIndex(forwardBy: length)
        return string
    }

    mutating func readString(_ field: StaticString, compact: Bool? = nil) throws(KafkaProtocolError) -> String {
        let at = offset
        guard let string = try readNullableString(field, compact: compact) else { throw nullError(field, at: at) }
        return string
    }

    /// A nullable byte run (`bytes`, `records`), as a slice of the input.
    mutating func readNullableBytes(_ field: StaticString) throws(KafkaProtocolError) -> ByteBuffer? {
        guard let length = try readLength(field, classicWidth: .int32, compact: flexible, minimumBytesEach: 1) else {
            return nil
        }
        // readLength checked the length against the bytes left.
        return buffer.readSlice(length: length)
    }

    mutating func readBytes(_ field: StaticString) throws(KafkaProtocolError) -> ByteBuffer {
        let at = offset
        guard let bytes = try readNullableBytes(field) else { throw nullError(field, at: at) }
        return bytes
    }

    // MARK: Arrays

    /// A nullable array; `minimumBytesEach` is the least an element can take on the wire, to
    /// reject counts the input cannot hold before reserving room for them.
    mutating func readNullableArray<Element>(
        _ field: StaticString, minimumBytesEach: Int = 1,
        _ readElement: (inout KafkaReader) throws(KafkaProtocolError) -> Element
    ) throws(KafkaProtocolError) -> [Element]? {
        guard let count = try readLength(field, classicWidth: .int32, compact: flexible, minimumBytesEach: max(minimumBytesEach, 1)) else {
            return nil
        }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try readElement(&self))
        }
        return elements
    }

    mutating func readArray<Element>(
        _ field: StaticString, minimumBytesEach: Int = 1,
        _ readElement: (inout KafkaReader) throws(KafkaProtocolError) -> Element
    ) throws(KafkaProtocolError) -> [Element] {
        let at = offset
        guard let elements = try readNullableArray(field, minimumBytesEach: minimumBytesEach, readElement) else {
            throw nullError(field, at: at)
        }
        return elements
    }

    /// An array of structures, each read by its own `read(from:version:)`.
    mutating func readArray<Element: KafkaStructure>(_ field: StaticString, of _: Element.Type, version: Int16) throws(KafkaProtocolError) -> [Element] {
        try readArray(field) { (reader: inout KafkaReader) throws(KafkaProtocolError) in try Element.read(from: &reader, version: version) }
    }

    mutating func readNullableArray<Element: KafkaStructure>(_ field: StaticString, of _: Element.Type, version: Int16) throws(KafkaProtocolError) -> [Element]? {
        try readNullableArray(field) { (reader: inout KafkaReader) throws(KafkaProtocolError) in try Element.read(from: &reader, version: version) }
    }

    mutating func readInt32Array(_ field: StaticString) throws(KafkaProtocolError) -> [Int32] {
        try readArray(field, minimumBytesEach: 4) { (reader: inout KafkaReader) throws(KafkaProtocolError) in try reader.readInteger(field) }
    }

    mutating func readStringArray(_ field: StaticString) throws(KafkaProtocolError) -> [String] {
        try readArray(field) { (reader: inout KafkaReader) throws(KafkaProtocolError) in try reader.readString(field) }
    }

    // MARK: Tagged fields

    /// Skips the tagged fields that end every structure of a flexible version; nothing in a
    /// classic version. The codecs use none of the optional tagged fields that clients may send
    /// (a fetch's cluster id, a follower's replica state), so all are skipped, after checking
    /// that each one's size fits in what is left.
    mutating func skipTaggedFields() throws(KafkaProtocolError) {
        guard flexible else { return }
        let countOffset = offset
        let count = try readUnsignedVarint("tagged field count")
        // Every tagged field takes at least two bytes (its tag and its size).
        guard UInt64(count) * 2 <= UInt64(remaining) else {
            throw error(.invalidLength, at: countOffset, "tagged field count \(count) but only \(remaining) bytes are left")
        }
        for _ in 0..<count {
            _ = try readUnsignedVarint("tag")
            let sizeOffset = offset
            let size = try readUnsignedVarint("tagged field size")
            guard Int(size) <= remaining else {
                throw error(.invalidLength, at: sizeOffset, "tagged field size \(size) but only \(remaining) bytes are left")
            }
            buffer.moveReaderIndex(forwardBy: Int(size))
        }
    }

    func expectEnd() throws(KafkaProtocolError) {
        guard remaining == 0 else {
            throw error(.trailingBytes, "\(remaining) byte\(remaining == 1 ? "" : "s") after the last field")
        }
    }

    /// The bytes left, unread (a request body after a header).
    mutating func readRest() -> ByteBuffer {
        let rest = buffer
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return rest
    }
}

extension KafkaReader {
    /// librdkafka (2.x) asks for every topic in a flexible Metadata request by reserving four
    /// bytes for the topic count and leaving them zero: a compact null (0) followed by three
    /// zero bytes. A Kafka broker reads the fields that follow from those zeros and ignores the
    /// real ones left over; here the three bytes are skipped when the body is exactly the
    /// strict form (`tail` bytes with no tagged fields) plus three zeros, so every other body
    /// is still read strictly and a client that writes the protocol correctly is never misread.
    mutating func skipLibrdkafkaNullArrayPadding(tail: Int) {
        guard remaining == tail + 3, buffer.getBytes(at: buffer.readerIndex, length: 3) == [0, 0, 0] else { return }
        buffer.moveReaderIndex(forwardBy: 3)
    }
}
