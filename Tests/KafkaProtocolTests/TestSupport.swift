import NIOCore
import Testing

@testable import KafkaProtocol

/// Bytes from a hex string; whitespace is ignored and `#` starts a comment that runs to the end
/// of the line, so fixtures can be laid out field by field.
func bytes(hex: String) -> ByteBuffer {
    let digits = hex.split(separator: "\n").map { $0.prefix { $0 != "#" } }.joined().filter { !$0.isWhitespace }
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

/// Encodes `request` at `version` as a body and as a whole frame, and checks that both decode
/// to it (through the frame decoder and the central dispatch for the frame) and that the frame
/// re-encodes to the same bytes.
func expectRequestRoundTrip<Request: KafkaRequestMessage>(
    _ request: Request, version: Int16, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let body = request.encode(version: version)
    #expect(try Request.decode(from: body, version: version) == request, sourceLocation: sourceLocation)

    let header = RequestHeader(apiKey: Request.apiKey, apiVersion: version, correlationID: 42, clientID: "round-trip")
    var stream = ByteBuffer()
    stream.writeInteger(Int32(0))
    header.encode(into: &stream)
    stream.writeImmutableBuffer(body)
    stream.setInteger(Int32(stream.readableBytes - 4), at: 0)
    let original = stream

    let frame = try #require(try KafkaFrameDecoder().nextFrame(from: &stream), sourceLocation: sourceLocation)
    let (decodedHeader, decoded) = try KafkaRequest.decode(frame: frame)
    #expect(decodedHeader == header, sourceLocation: sourceLocation)
    #expect(decoded.apiKey == Request.apiKey, sourceLocation: sourceLocation)
    #expect(decoded.encodeFrame(header: decodedHeader) == original, sourceLocation: sourceLocation)
}

/// Encodes `response` as a frame at `version` and checks that it decodes back to it.
func expectResponseRoundTrip<Response: KafkaResponseMessage>(
    _ response: Response, version: Int16, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var stream = KafkaResponseFrame.encode(response, version: version, correlationID: 99)
    let frame = try #require(try KafkaFrameDecoder().nextFrame(from: &stream), sourceLocation: sourceLocation)
    let (header, decoded) = try KafkaResponseFrame.decode(Response.self, frame: frame, version: version)
    #expect(header.correlationID == 99, sourceLocation: sourceLocation)
    #expect(decoded == response, sourceLocation: sourceLocation)
}

/// Every version of `apiKey` this module implements, for `@Test(arguments:)`.
func versions(_ apiKey: ApiKey) -> [Int16] {
    Array(apiKey.supportedVersions)
}
