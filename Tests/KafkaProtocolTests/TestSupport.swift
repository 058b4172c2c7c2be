import NIOCore
import Testing

@testable import KafkaProtocol

/// Bytes from a hex string; whitespace and newlines are ignored so fixtures can be laid out
/// field by field.
func bytes(hex: String) -> ByteBuffer {
    let digits = hex.filter { !$0.isWhitespace }
    precondition(digits.count.isMultiple(of: 2), "odd number of hex digits")
    var buffer = ByteBuffer()
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        buffer.writeInteger(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return buffer
}

func hex(_ buffer: ByteBuffer) -> String {
    buffer.readableBytesView.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// A ByteBuffer holding exactly `array`.
func buffer(_ array: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: array)
}

/// Runs `body` with a reader over `input` (flexible or classic).
func read<T>(
    _ input: ByteBuffer, flexible: Bool,
    _ body: (inout KafkaReader) throws(KafkaProtocolError) -> T
) throws(KafkaProtocolError) -> T {
    var reader = KafkaReader(input, messageName: "test", flexible: flexible)
    let value = try body(&reader)
    try reader.expectEnd()
    return value
}

/// The bytes `body` writes.
func written(flexible: Bool, _ body: (inout KafkaWriter) -> Void) -> ByteBuffer {
    var writer = KafkaWriter(buffer: ByteBuffer(), flexible: flexible)
    body(&writer)
    return writer.buffer
}

/// The error `body` throws, or nil when it does not throw.
func protocolError<T>(_ body: () throws(KafkaProtocolError) -> T) -> KafkaProtocolError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// A small deterministic generator (SplitMix64) so randomised tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
