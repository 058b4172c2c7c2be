import PGOutput
import Testing

@Suite struct ReplicationFrameTests {
    @Test func decodesXLogData() throws {
        // 'w', dataStart 0/19441B0, walEnd 0/1944308, sendTime 2026-01-02 03:04:05, then a
        // Stream Stop message ('E') as the payload.
        let bytes = hex("77 00000000019441B0 0000000001944308 0002EA5DBB151340 45")
        guard case .xLogData(let frame) = try ReplicationFrame.decode(from: bytes) else {
            Issue.record("not XLogData")
            return
        }
        #expect(frame.walStart == LSN("0/19441B0"))
        #expect(frame.walEnd == LSN("0/1944308"))
        #expect(frame.sendTime.description == "2026-01-02 03:04:05+00")
        #expect(Array(frame.payload) == [0x45])
        #expect(frame.payload.startIndex == 25)
        #expect(try PGOutputMessage.decode(from: frame.payload) == .streamStop)
    }

    @Test func decodesACopyOfABorrowedBuffer() throws {
        var frame: ReplicationFrame?
        try hex("6B 0000000000000010 0000000000000000 00").withUnsafeBytes { buffer in
            frame = try ReplicationFrame.decode(copying: buffer)
        }
        #expect(frame == .primaryKeepalive(PrimaryKeepalive(walEnd: LSN(16), sendTime: .postgresEpoch, replyRequested: false)))
    }

    @Test func xLogDataMayCarryAnEmptyPayload() throws {
        let frame = try ReplicationFrame.decode(from: hex("77" + String(repeating: "00", count: 24)))
        #expect(frame == .xLogData(XLogData(walStart: .zero, walEnd: .zero, sendTime: .postgresEpoch, payload: [])))
    }

    @Test func decodesKeepalive() throws {
        let bytes = hex("6B 00000016B374D848 0002EA5DBB151340 01")
        let frame = try ReplicationFrame.decode(from: bytes)
        #expect(frame == .primaryKeepalive(PrimaryKeepalive(walEnd: LSN("16/B374D848")!, sendTime: PostgresTimestamp(rawValue: 820_638_245_000_000), replyRequested: true)))
        #expect(try ReplicationFrame.decode(from: hex("6B 0000000000000001 0000000000000000 00")) == .primaryKeepalive(PrimaryKeepalive(walEnd: LSN(1), sendTime: .postgresEpoch, replyRequested: false)))
    }

    @Test func keepaliveMustBeExact() {
        let valid = hex("6B 00000016B374D848 0002EA5DBB151340 01")
        for length in 0..<valid.count {
            #expect(throws: PGOutputError.self) { try ReplicationFrame.decode(from: Array(valid[..<length])) }
        }
        let trailing = #expect(throws: PGOutputError.self) { try ReplicationFrame.decode(from: valid + [0]) }
        #expect(trailing?.code == .trailingBytes)
        #expect(trailing?.offset == 18)
        let badBool = #expect(throws: PGOutputError.self) { try ReplicationFrame.decode(from: hex("6B 00000016B374D848 0002EA5DBB151340 02")) }
        #expect(badBool?.code == .invalidValue)
        #expect(badBool?.offset == 17)
    }

    @Test func truncatedXLogDataHeaderNamesTheField() {
        let error = #expect(throws: PGOutputError.self) { try ReplicationFrame.decode(from: hex("77 00000000019441B0 00000000")) }
        #expect(error?.code == .truncated)
        #expect(error?.offset == 9)
        #expect(error?.messageName == "XLogData")
        #expect(error?.detail.contains("walEnd") == true)
    }

    @Test func unknownFrameTagIsReturnedNotThrown() throws {
        #expect(try ReplicationFrame.decode(from: hex("68 0102")) == .unknown(tag: 0x68, body: [1, 2][...]))
        #expect(throws: PGOutputError.self) { try ReplicationFrame.decode(from: []) }
    }

    @Test func framesRoundTrip() throws {
        let frames: [ReplicationFrame] = [
            .xLogData(XLogData(walStart: LSN(7), walEnd: LSN(9), sendTime: PostgresTimestamp(rawValue: -5), payload: [0x45])),
            .primaryKeepalive(PrimaryKeepalive(walEnd: LSN(.max), sendTime: PostgresTimestamp(rawValue: .max), replyRequested: true)),
            .unknown(tag: 0x7A, body: [9, 8, 7]),
        ]
        for frame in frames {
            #expect(try ReplicationFrame.decode(from: frame.encode()) == frame)
        }
    }

    @Test func encodesStandbyStatusUpdate() throws {
        let update = StandbyStatusUpdate(
            written: LSN("0/1944308")!, flushed: LSN("0/19441B0")!, applied: .zero,
            clock: PostgresTimestamp(unixMicroseconds: 1_767_323_045_000_000), replyRequested: true)
        let expected = hex("72 0000000001944308 00000000019441B0 0000000000000000 0002EA5DBB151340 01")
        #expect(update.encode() == expected)
        #expect(StandbyStatusUpdate.encodedSize == expected.count)
        #expect(try StandbyStatusUpdate.decode(from: expected[...]) == update)
        var notReply = update
        notReply.replyRequested = false
        #expect(notReply.encode().last == 0)
        #expect(throws: PGOutputError.self) { try StandbyStatusUpdate.decode(from: hex("77")[...]) }
    }
}
