import PGOutput
import Testing

/// Begin Prepare, Prepare, Commit Prepared, Rollback Prepared, Stream Prepare.
@Suite struct TwoPhaseMessagesTests {
    static let ts = "0002EA5DBB151340"
    static let timestamp = PostgresTimestamp(rawValue: 820_638_245_000_000)

    @Test func decodesBeginPrepare() throws {
        let bytes = hex("62 0000000001A00B88 0000000001A00C88 \(Self.ts) 0000032D") + cstr("gid-commit")
        let expected = PGOutputMessage.beginPrepare(.init(
            prepareLSN: LSN("0/1A00B88")!, endLSN: LSN("0/1A00C88")!, prepareTimestamp: Self.timestamp, xid: 813, gid: "gid-commit"))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func decodesPrepareAndStreamPrepare() throws {
        let body = hex("00 0000000001A00B88 0000000001A00C88 \(Self.ts) 0000032D") + cstr("gid-commit")
        let prepare = PGOutputMessage.Prepare(
            prepareLSN: LSN("0/1A00B88")!, endLSN: LSN("0/1A00C88")!, prepareTimestamp: Self.timestamp, xid: 813, gid: "gid-commit")
        #expect(try PGOutputMessage.decode(from: hex("50") + body) == .prepare(prepare))
        #expect(try PGOutputMessage.decode(from: hex("70") + body) == .streamPrepare(prepare))
        #expect(PGOutputMessage.streamPrepare(prepare).encode() == hex("70") + body)
    }

    @Test func decodesCommitPrepared() throws {
        let bytes = hex("4B 00 0000000001A00CC8 0000000001A00D00 \(Self.ts) 0000032D") + cstr("gid-commit")
        let message = try PGOutputMessage.decode(from: bytes)
        guard case .commitPrepared(let commit) = message else {
            Issue.record("not a Commit Prepared: \(message)")
            return
        }
        #expect(commit.commitLSN == LSN("0/1A00CC8"))
        #expect(commit.endLSN == LSN("0/1A00D00"))
        #expect(commit.commitTimestamp == Self.timestamp)
        #expect(commit.xid == 813)
        #expect(commit.gid == "gid-commit")
        #expect(message.encode() == bytes)
    }

    @Test func decodesRollbackPrepared() throws {
        let bytes = hex("72 00 0000000001A00E78 0000000001A00EB8 \(Self.ts) 0002EA5DBB16F580 0000032E") + cstr("gid-rollback")
        let expected = PGOutputMessage.rollbackPrepared(.init(
            prepareEndLSN: LSN("0/1A00E78")!, rollbackEndLSN: LSN("0/1A00EB8")!,
            prepareTimestamp: Self.timestamp, rollbackTimestamp: PostgresTimestamp(rawValue: 820_638_245_123_456),
            xid: 814, gid: "gid-rollback"))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func gidMustBeTerminated() {
        let error = decodeError(hex("4B 00 0000000001A00CC8 0000000001A00D00 \(Self.ts) 0000032D") + Array("gid".utf8))
        #expect(error?.code == .unterminatedString)
        #expect(error?.offset == 30)
        #expect(error?.messageName == "Commit Prepared")
    }
}
