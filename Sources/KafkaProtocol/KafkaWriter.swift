import NIOCore

/// The writing side of `KafkaReader`: appends Kafka's primitive types to a `ByteBuffer`, with
/// compact or classic length prefixes chosen once by the version being written.
///
/// Created only inside this module (see `KafkaReader`).
public struct KafkaWriter {
    var buffer: ByteBuffer
    /// The version being written is a flexible one: compact lengths and tagged fields.
    let flexible: Bool

    init(buffer: ByteBuffer, flexible: Bool) {
        self.buffer = buffer
        self.flexible = flexible
    }

    mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        buffer.writeInteger(value)
    }

    mutating func writeBool(_ value: Bool) {
        buffer.writeInteger(value ? 1 : 0, as: UInt8.self)
    }

    mutating func writeUUID(_ value: KafkaUUID) {
        buffer.writeInteger(value.high)
        buffer.writeInteger(value.low)
    }

    mutating func writeUnsignedVarint(_ value: UInt32) {
        writeUnsignedVarlong(UInt64(value))
    }

    mutating func writeUnsignedVarlong(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }

    mutating func writeVarint(_ value: Int32) {
        writeUnsignedVarint(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    mutating func writeVarlong(_ value: Int64) {
        writeUnsignedVarlong(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    // MARK: Lengths

    /// Classic strings carry an Int16 length; a longer one cannot be sent. Kafka's own limits
    /// (topic names of 249 characters, group ids the client chose in a request of the same
    /// version) keep every string this module writes far below it.
    private mutating func writeLength(_ length: Int?, classicInt16: Bool, compact: Bool) {
        if compact {
            writeUnsignedVarint(length.map { UInt32($0) + 1 } ?? 0)
        } else if classicInt16 {
            precondition((length ?? 0) <= Int(Int16.max), "a classic Kafka string is at most 32767 bytes")
            writeInteger(Int16(length ?? -1))
        } else {
            precondition((length ?? 0) <= Int(Int32.max), "a Kafka byte run or array is at most Int32.max long")
            writeInteger(Int32(length ?? -1))
        }
    }

    // MARK: Strings and bytes

    mutating func writeNullableString(_ value: String?, compact: Bool? = nil) {
        guard let value else {
            writeLength(nil, classicInt16: true, compact: compact ?? flexible)
            return
        }
        writeLength(value.utf8.count, classicInt16: true, compact: compact ?? flexible)
        buffer.writeString(value)
    }

    mutating func writeString(_ value: String, compact: Bool? = nil) {
        writeNullableString(value, compact: compact)
    }

    /// Copies the readable bytes of `value` once, straight into the output: stored record
    /// batches go out as they are.
    mutating func writeNullableBytes(_ value: ByteBuffer?) {
        guard let value else {
            writeLength(nil, classicInt16: false, compact: flexible)
            return
        }
        writeLength(value.readableBytes, classicInt16: false, compact: flexible)
        buffer.writeImmutableBuffer(value)
    }

    mutating func writeBytes(_ value: ByteBuffer) {
        writeNullableBytes(value)
    }

    // MARK: Arrays

    mutating func writeNullableArray<Element>(_ elements: [Element]?, _ writeElement: (inout KafkaWriter, Element) -> Void) {
        guard let elements else {
            writeLength(nil, classicInt16: false, compact: flexible)
            return
        }
        writeLength(elements.count, classicInt16: false, compact: flexible)
        for element in elements {
            writeElement(&self, element)
        }
    }

    mutating func writeArray<Element>(_ elements: [Element], _ writeElement: (inout KafkaWriter, Element) -> Void) {
        writeNullableArray(elements, writeElement)
    }

    mutating func writeArray<Element: KafkaStructure>(_ elements: [Element], version: Int16) {
        writeArray(elements) { writer, element in element.write(to: &writer, version: version) }
    }

    mutating func writeNullableArray<Element: KafkaStructure>(_ elements: [Element]?, version: Int16) {
        writeNullableArray(elements) { writer, element in element.write(to: &writer, version: version) }
    }

    mutating func writeInt32Array(_ elements: [Int32]) {
        writeArray(elements) { writer, element in writer.writeInteger(element) }
    }

    mutating func writeStringArray(_ elements: [String]) {
        writeArray(elements) { writer, element in writer.writeString(element) }
    }

    // MARK: Tagged fields

    /// The (empty) tagged-field section that ends every structure of a flexible version.
    /// None of the optional tagged fields is written: each has a default that clients assume.
    mutating func writeEmptyTaggedFields() {
        guard flexible else { return }
        writeUnsignedVarint(0)
    }
}
