import PGOutput
import Testing

/// Every proper prefix of a valid message fails cleanly, and so does any extra byte.
@Suite struct MalformedInputTests {
    static let seed: UInt64 = 0x5EED_0001
    static let messageCount = 3000

    /// The errors a prefix of valid bytes can produce: it only ever lacks bytes.
    static let truncationCodes: Set<PGOutputError.Code> = [.empty, .truncated, .unterminatedString]

    @Test func everyTruncationOfAValidMessageFails() {
        var random = RandomMessages(seed: Self.seed)
        var prefixes = 0
        for index in 0..<Self.messageCount {
            let (message, context) = random.next()
            if case .unknown = message { continue }  // any prefix of an unknown message is one too
            let bytes = message.encode()
            for length in 0..<bytes.count {
                prefixes += 1
                do {
                    let decoded = try PGOutputMessage.decode(from: bytes[..<length], context: context)
                    Issue.record("seed \(Self.seed) message \(index): prefix \(length)/\(bytes.count) of \(hexString(bytes)) decoded as \(decoded)")
                    return
                } catch {
                    guard Self.truncationCodes.contains(error.code), error.offset <= length else {
                        Issue.record("seed \(Self.seed) message \(index): prefix \(length) of \(hexString(bytes)): unexpected \(error)")
                        return
                    }
                }
            }
        }
        #expect(prefixes > 50_000)
    }

    @Test func anExtraByteAfterAValidMessageFails() {
        var random = RandomMessages(seed: Self.seed + 1)
        for index in 0..<Self.messageCount {
            let (message, context) = random.next()
            if case .unknown = message { continue }
            let bytes = message.encode()
            do {
                let decoded = try PGOutputMessage.decode(from: bytes + [0x00], context: context)
                Issue.record("seed \(Self.seed + 1) message \(index): \(hexString(bytes)) + 00 decoded as \(decoded)")
                return
            } catch {
                // Every field has a fixed size, an explicit length or a terminator that is
                // already there: the extra byte can only be left over.
                guard error.code == .trailingBytes, error.offset == bytes.count else {
                    Issue.record("seed \(Self.seed + 1) message \(index): \(hexString(bytes)) + 00: unexpected \(error)")
                    return
                }
            }
        }
    }

    @Test func everyTruncationOfAFrameFails() {
        let keepalive = ReplicationFrame.primaryKeepalive(.init(walEnd: LSN(1), sendTime: .postgresEpoch, replyRequested: true)).encode()
        let xLogData = ReplicationFrame.xLogData(.init(walStart: LSN(1), walEnd: LSN(2), sendTime: .postgresEpoch, payload: [0x45])).encode()
        for bytes in [keepalive, Array(xLogData.dropLast())] {
            for length in 0..<bytes.count {
                #expect(throws: PGOutputError.self) { try ReplicationFrame.decode(from: bytes[..<length]) }
            }
        }
    }
}
