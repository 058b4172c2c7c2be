import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct MalformedInputTests {
    /// The request frames of the kafka-python fixtures, without their size prefix.
    static let requestFrames: [ByteBuffer] = KafkaPythonFixtures.requests.map {
        var frame = bytes(hex: $0.hex)
        frame.moveReaderIndex(forwardBy: 4)
        return frame
    }

    @Test func everyTruncatedRequestIsAnError() {
        for frame in Self.requestFrames {
            for length in 0..<frame.readableBytes {
                let prefix = frame.getSlice(at: frame.readerIndex, length: length)!
                let error = protocolError { () throws(KafkaProtocolError) in try KafkaRequest.decode(frame: prefix) }
                #expect(error != nil, "a \(length)-byte prefix of \(hex(frame)) decoded")
                if let error {
                    #expect([.truncated, .invalidLength].contains(error.code), "\(error)")
                    #expect(error.offset <= length)
                }
            }
        }
    }

    @Test func aByteTooManyIsAnError() {
        for frame in Self.requestFrames {
            var longer = frame
            longer.writeInteger(UInt8(0))
            let error = protocolError { () throws(KafkaProtocolError) in try KafkaRequest.decode(frame: longer) }
            #expect(error?.code == .trailingBytes, "\(hex(frame))")
        }
    }

    @Test func theFrameDecoderWaitsForWholeFrames() throws {
        let stream = bytes(hex: KafkaPythonFixtures.requests[0].hex + KafkaPythonFixtures.requests[1].hex)
        var decoder = KafkaFrameDecoder()
        var frames: [ByteBuffer] = []
        // Fed one byte at a time, it yields exactly the two frames.
        var pending = ByteBuffer()
        for byte in stream.readableBytesView {
            pending.writeInteger(byte)
            while let frame = try decoder.decode(buffer: &pending) { frames.append(frame) }
        }
        #expect(frames == Array(Self.requestFrames[0...1]))
        #expect(pending.readableBytes == 0)
        #expect(try decoder.decodeLast(buffer: &pending, seenEOF: true) == nil)
    }

    @Test func aStreamEndingInsideAFrameIsAnError() throws {
        var partial = bytes(hex: "0000001000120003")
        var decoder = KafkaFrameDecoder()
        #expect(try decoder.decode(buffer: &partial) == nil)
        #expect(partial.readableBytes == 8)
        #expect(throws: KafkaProtocolError.self) { try decoder.decodeLast(buffer: &partial, seenEOF: true) }
    }

    @Test func oversizedAndNegativeFrameSizesAreRejectedAtOnce() throws {
        let decoder = KafkaFrameDecoder(maximumFrameSize: 1024)
        var oversized = bytes(hex: "00000401")
        #expect(protocolError { () throws(KafkaProtocolError) in try decoder.nextFrame(from: &oversized) }?.code == .frameTooLarge)
        var huge = bytes(hex: "7fffffff00")
        #expect(protocolError { () throws(KafkaProtocolError) in try KafkaFrameDecoder().nextFrame(from: &huge) }?.code == .frameTooLarge)
        var negative = bytes(hex: "ffffffff")
        #expect(protocolError { () throws(KafkaProtocolError) in try decoder.nextFrame(from: &negative) }?.code == .invalidLength)
        var atTheLimit = bytes(hex: "00000400")
        atTheLimit.writeRepeatingByte(0, count: 1024)
        #expect(try decoder.nextFrame(from: &atTheLimit)?.readableBytes == 1024)
    }

    @Test func unknownApisAndUnsupportedVersionsAreTheirOwnCase() throws {
        // DescribeConfigs (32): a real API this module does not serve.
        let unknown = bytes(hex: "0020 0001 00000005 ffff 01020304")
        #expect(try KafkaRequest.decode(frame: unknown).request == .unsupported(apiKey: 32, version: 1))
        let negativeKey = bytes(hex: "8000 0000 00000005 ffff")
        #expect(try KafkaRequest.decode(frame: negativeKey).request == .unsupported(apiKey: Int16.min, version: 0))
        // Fetch v3 (below the range) and v13 (above it).
        for version in ["0003", "000d"] {
            let frame = bytes(hex: "0001 \(version) 00000005 ffff 00")
            let request = try KafkaRequest.decode(frame: frame).request
            guard case .unsupported(let apiKey, _) = request else {
                Issue.record("Fetch \(version) decoded as \(request)")
                continue
            }
            #expect(apiKey == 1)
        }
        // And a message type asked for a version it lacks says so.
        let error = protocolError { () throws(KafkaProtocolError) in try FetchRequest.decode(from: ByteBuffer(), version: 13) }
        #expect(error?.code == .unsupportedVersion)
    }

    @Test func aHeaderShorterThanItsFieldsIsAnError() {
        for hex in ["", "00", "0012 00", "0012 0003 000000", "0012 0003 00000001 0005 6162"] {
            let error = protocolError { () throws(KafkaProtocolError) in try RequestHeader.decode(from: bytes(hex: hex)) }
            #expect(error?.code == .truncated || error?.code == .invalidLength, "\(hex)")
            #expect(error?.messageName == "RequestHeader")
        }
    }
}
