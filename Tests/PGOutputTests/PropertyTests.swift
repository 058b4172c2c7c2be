import PGOutput
import Testing

/// Round trips of random messages and decoding of random and mutated bytes: more than 100,000
/// inputs, seeded for reproducibility (the seed and input are printed on failure).
@Suite struct PropertyTests {
    @Test func randomMessagesRoundTrip() {
        let seed: UInt64 = 0x5EED_1000
        var random = RandomMessages(seed: seed)
        for index in 0..<30_000 {
            let (message, context) = random.next()
            let bytes = message.encode()
            do {
                let decoded = try PGOutputMessage.decode(from: bytes, context: context)
                guard decoded == message else {
                    Issue.record("seed \(seed) message \(index): \(hexString(bytes)) decoded as \(decoded), encoded from \(message)")
                    return
                }
                // The same message inside an XLogData frame.
                let frame = ReplicationFrame.xLogData(.init(walStart: random.lsn(), walEnd: random.lsn(), sendTime: random.timestamp(), payload: bytes[...])).encode()
                guard case .xLogData(let data) = try ReplicationFrame.decode(from: frame),
                    try PGOutputMessage.decode(from: data.payload, context: context) == message
                else {
                    Issue.record("seed \(seed) message \(index): frame \(hexString(frame)) does not round-trip")
                    return
                }
            } catch {
                Issue.record("seed \(seed) message \(index): \(hexString(bytes)) from \(message): \(error)")
                return
            }
        }
    }

    /// Mutations of valid messages: whatever happens, no crash; an error's offset lies within
    /// the input; and what decodes is exactly what was sent (encoding it gives the input back,
    /// so the decoder neither drops nor invents bytes).
    @Test func mutatedMessagesFailCleanlyOrDecodeLosslessly() {
        let seed: UInt64 = 0x5EED_2000
        var random = RandomMessages(seed: seed)
        var decodedCount = 0
        let inputs = 60_000
        for index in 0..<inputs {
            let (message, validContext) = random.next()
            var bytes = message.encode()
            for _ in 0..<random.int(1...3) { mutate(&bytes, &random) }
            // Sometimes decode under the wrong context as well.
            var context = validContext
            if random.chance(20) { context.inStreamBlock.toggle() }
            if random.chance(10) { context.streamAbortHasAbortInfo.toggle() }
            do {
                let decoded = try PGOutputMessage.decode(from: bytes, context: context)
                decodedCount += 1
                guard decoded.encode() == bytes else {
                    Issue.record("seed \(seed) input \(index): \(hexString(bytes)) decoded as \(decoded), which encodes to \(hexString(decoded.encode()))")
                    return
                }
            } catch {
                guard error.offset >= 0, error.offset <= bytes.count else {
                    Issue.record("seed \(seed) input \(index): \(hexString(bytes)): offset out of range in \(error)")
                    return
                }
            }
        }
        // Mutations keep a fair share decodable, so both paths are exercised.
        #expect(decodedCount > inputs / 20)
        #expect(decodedCount < inputs * 9 / 10)
    }

    @Test func randomBytesFailCleanlyOrDecodeLosslessly() {
        let seed: UInt64 = 0x5EED_3000
        var random = RandomMessages(seed: seed)
        let tags = PGOutputMessage.Tag.allCases.map(\.rawValue)
        for index in 0..<20_000 {
            // Mostly a known tag followed by noise; sometimes a frame.
            var bytes = [tags[random.int(0...(tags.count - 1))]] + Array(random.bytes(max: 48))
            let context = PGOutputMessage.DecodingContext(inStreamBlock: random.chance(50), streamAbortHasAbortInfo: random.chance(50))
            do {
                let decoded = try PGOutputMessage.decode(from: bytes, context: context)
                guard decoded.encode() == bytes else {
                    Issue.record("seed \(seed) input \(index): \(hexString(bytes)) decoded as \(decoded) but re-encodes differently")
                    return
                }
            } catch {
                guard error.offset <= bytes.count else {
                    Issue.record("seed \(seed) input \(index): offset out of range in \(error)")
                    return
                }
            }
            bytes[0] = [0x77, 0x6B, random.int(UInt8.self)][random.int(0...2)]
            do {
                let frame = try ReplicationFrame.decode(from: bytes)
                guard frame.encode() == bytes else {
                    Issue.record("seed \(seed) input \(index): frame \(hexString(bytes)) re-encodes differently")
                    return
                }
            } catch {
                guard error.offset <= bytes.count else {
                    Issue.record("seed \(seed) input \(index): offset out of range in \(error)")
                    return
                }
            }
        }
    }

    /// One random edit: the kinds of damage that find length and count handling bugs.
    func mutate(_ bytes: inout [UInt8], _ random: inout RandomMessages) {
        let position = bytes.isEmpty ? 0 : random.int(0...(bytes.count - 1))
        switch random.int(0...6) {
        case 0 where !bytes.isEmpty:  // flip a bit
            bytes[position] ^= 1 << UInt8(random.int(0...7))
        case 1 where !bytes.isEmpty:  // replace a byte
            bytes[position] = random.int(UInt8.self)
        case 2:  // insert a byte
            bytes.insert(random.int(UInt8.self), at: random.int(0...bytes.count))
        case 3 where !bytes.isEmpty:  // delete a byte
            bytes.remove(at: position)
        case 4:  // truncate
            bytes.removeLast(random.int(0...bytes.count))
        case 5 where bytes.count >= 2:  // an extreme 16-bit count
            let extreme: [[UInt8]] = [[0x7F, 0xFF], [0xFF, 0xFF], [0x80, 0x00], [0x00, 0x00]]
            let at = random.int(0...(bytes.count - 2))
            bytes.replaceSubrange(at..<(at + 2), with: extreme[random.int(0...3)])
        case 6 where bytes.count >= 4:  // an extreme 32-bit length
            let extreme: [[UInt8]] = [[0x7F, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0x10, 0]]
            let at = random.int(0...(bytes.count - 4))
            bytes.replaceSubrange(at..<(at + 4), with: extreme[random.int(0...4)])
        default:
            bytes.append(random.int(UInt8.self))
        }
    }
}
