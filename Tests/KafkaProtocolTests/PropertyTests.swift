import NIOCore
import Testing

@testable import KafkaProtocol

/// Mutated encodings must decode to a value or a `KafkaProtocolError`, never trap; and what
/// decodes must survive a second encode and decode unchanged.
@Suite struct PropertyTests {
    /// Valid request frames (without size prefix): the kafka-python fixtures and one sample of
    /// every API at every supported version.
    static let requestCorpus: [ByteBuffer] = {
        var frames = MalformedInputTests.requestFrames
        func add<Request: KafkaRequestMessage>(_ request: Request, _ version: Int16) {
            var frame = ByteBuffer()
            RequestHeader(apiKey: Request.apiKey, apiVersion: version, correlationID: 1, clientID: "p").encode(into: &frame)
            request.encode(into: &frame, version: version)
            frames.append(frame)
        }
        for version in versions(.metadata) { add(MetadataTests.request(version: version), version) }
        for version in versions(.fetch) { add(FetchTests.request(version: version), version) }
        return frames
    }()

    static let responseCorpus: [(frame: ByteBuffer, version: Int16)] = versions(.fetch).map {
        var frame = KafkaResponseFrame.encode(FetchTests.response(version: $0), version: $0, correlationID: 1)
        frame.moveReaderIndex(forwardBy: 4)
        return (frame, $0)
    }

    static func mutate(_ input: ByteBuffer, using generator: inout SeededGenerator) -> ByteBuffer {
        var bytes = Array(input.readableBytesView)
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            switch Int.random(in: 0..<5, using: &generator) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 1 where !bytes.isEmpty:
                // Lengths and counts are where decoders go wrong: make one large or negative.
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = [0x00, 0x7F, 0x80, 0xFF].randomElement(using: &generator)!
            case 2 where !bytes.isEmpty:
                bytes.remove(at: Int.random(in: 0..<bytes.count, using: &generator))
            case 3:
                bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
            default:
                bytes.removeLast(Int.random(in: 0...min(3, bytes.count), using: &generator))
            }
        }
        return ByteBuffer(bytes: bytes)
    }

    @Test func mutatedRequestsNeverTrap() throws {
        var generator = SeededGenerator(seed: 0x6B61_666B_61)
        var decodedCount = 0
        for _ in 0..<4000 {
            let original = Self.requestCorpus.randomElement(using: &generator)!
            let mutated = Self.mutate(original, using: &generator)
            guard let (header, request) = try? KafkaRequest.decode(frame: mutated) else { continue }
            decodedCount += 1
            if case .unsupported = request { continue }
            var reencoded = request.encodeFrame(header: header)
            reencoded.moveReaderIndex(forwardBy: 4)
            let again = try KafkaRequest.decode(frame: reencoded)
            #expect(again.header == header)
            #expect(again.request == request)
        }
        // Some mutations (a changed offset or name byte) still decode: the check above ran.
        #expect(decodedCount > 100)
    }

    @Test func mutatedResponsesNeverTrap() throws {
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            let (original, version) = Self.responseCorpus.randomElement(using: &generator)!
            let mutated = Self.mutate(original, using: &generator)
            guard let (header, response) = try? KafkaResponseFrame.decode(FetchResponse.self, frame: mutated, version: version) else { continue }
            var reencoded = KafkaResponseFrame.encode(response, version: version, correlationID: header.correlationID)
            reencoded.moveReaderIndex(forwardBy: 4)
            #expect(try KafkaResponseFrame.decode(FetchResponse.self, frame: reencoded, version: version).response == response)
        }
    }

    @Test func randomBytesNeverTrap() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<64, using: &generator)
            let garbage = ByteBuffer(bytes: (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
            _ = try? KafkaRequest.decode(frame: garbage)
            for apiKey in ApiKey.allCases {
                let header = RequestHeader(apiKey: apiKey, apiVersion: apiKey.supportedVersions.upperBound, correlationID: 0, clientID: nil)
                _ = try? KafkaRequest.decode(header: header, body: garbage)
            }
        }
    }
}
