import PGOutput
import Testing

/// Begin, Commit and Origin, from byte vectors written from the protocol documentation.
@Suite struct TransactionMessagesTests {
    // 2026-01-02 03:04:05 UTC in microseconds since 2000-01-01 (see PostgresTimestampTests).
    static let timestampHex = "0002EA5DBB151340"
    static let timestamp = PostgresTimestamp(rawValue: 820_638_245_000_000)

    @Test func decodesBegin() throws {
        // 'B', final_lsn 0/19442D8, commit_ts, xid 741
        let bytes = hex("42 00000000019442D8 \(Self.timestampHex) 000002E5")
        let expected = PGOutputMessage.begin(.init(finalLSN: LSN("0/19442D8")!, commitTimestamp: Self.timestamp, xid: 741))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func decodesCommit() throws {
        // 'C', flags 0, commit_lsn 0/19442D8, end_lsn 0/1944308, commit_ts
        let bytes = hex("43 00 00000000019442D8 0000000001944308 \(Self.timestampHex)")
        let message = try PGOutputMessage.decode(from: bytes)
        guard case .commit(let commit) = message else {
            Issue.record("not a Commit: \(message)")
            return
        }
        #expect(commit.flags == 0)
        #expect(commit.commitLSN == LSN("0/19442D8"))
        #expect(commit.endLSN == LSN("0/1944308"))
        #expect(commit.commitTimestamp == Self.timestamp)
        #expect(message.encode() == bytes)
    }

    @Test func decodesOrigin() throws {
        // 'O', origin_lsn 0/ABCDEF, name "upstream"
        let bytes = hex("4F 0000000000ABCDEF") + cstr("upstream")
        let expected = PGOutputMessage.origin(.init(commitLSN: LSN(0xABCDEF), name: "upstream"))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func beginWithTrailingByteNamesTheOffset() {
        let error = decodeError(hex("42 00000000019442D8 \(Self.timestampHex) 000002E5 00"))
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 21)
        #expect(error?.messageName == "Begin")
    }

    @Test func truncatedCommitNamesTheField() {
        // Stops in the middle of end_lsn (starts at offset 10).
        let error = decodeError(hex("43 00 00000000019442D8 00000000"))
        #expect(error?.code == .truncated)
        #expect(error?.offset == 10)
        #expect(error?.messageName == "Commit")
        #expect(error?.detail.contains("end_lsn") == true)
    }

    @Test func emptyPayloadIsAnError() {
        #expect(decodeError([])?.code == .empty)
    }

    @Test func unknownTagIsReturnedForTheCallerToSkip() throws {
        let message = try PGOutputMessage.decode(from: hex("7A 010203"))
        #expect(message == .unknown(tag: 0x7A, body: [1, 2, 3][...]))
        #expect(message.tagByte == 0x7A)
        #expect(message.encode() == hex("7A 010203"))
    }
}
