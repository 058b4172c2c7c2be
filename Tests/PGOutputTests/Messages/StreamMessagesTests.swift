import PGOutput
import Testing

/// Stream Start / Stop / Commit / Abort and the xid that change messages carry inside a block.
@Suite struct StreamMessagesTests {
    static let inStream = PGOutputMessage.DecodingContext(inStreamBlock: true)

    @Test func decodesStreamStartAndStop() throws {
        #expect(try PGOutputMessage.decode(from: hex("53 00000328 01")) == .streamStart(.init(xid: 808, isFirstSegment: true)))
        #expect(try PGOutputMessage.decode(from: hex("53 00000328 00")) == .streamStart(.init(xid: 808, isFirstSegment: false)))
        #expect(decodeError(hex("53 00000328 02"))?.code == .invalidValue)
        #expect(try PGOutputMessage.decode(from: hex("45")) == .streamStop)
        #expect(decodeError(hex("45 00"))?.code == .trailingBytes)
    }

    @Test func decodesStreamCommit() throws {
        let bytes = hex("63 00000328 00 00000000019F0BC8 00000000019F0C00 0002EA5DBB151340")
        let expected = PGOutputMessage.streamCommit(.init(
            xid: 808, commitLSN: LSN("0/19F0BC8")!, endLSN: LSN("0/19F0C00")!,
            commitTimestamp: PostgresTimestamp(rawValue: 820_638_245_000_000)))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func decodesStreamAbortOfASubtransaction() throws {
        let message = try PGOutputMessage.decode(from: hex("41 00000328 00000329"))
        guard case .streamAbort(let abort) = message else {
            Issue.record("not a Stream Abort")
            return
        }
        #expect(abort.xid == 808)
        #expect(abort.subtransactionXID == 809)
        #expect(!abort.isTopLevel)
        #expect(abort.abortInfo == nil)
    }

    @Test func streamAbortCarriesAbortInfoOnlyWhenToldSo() throws {
        let bytes = hex("41 00000328 00000328 00000000019F0C00 0002EA5DBB151340")
        let parallel = PGOutputMessage.DecodingContext(streamAbortHasAbortInfo: true)
        let expected = PGOutputMessage.streamAbort(.init(
            xid: 808, subtransactionXID: 808,
            abortInfo: .init(abortLSN: LSN("0/19F0C00")!, abortTimestamp: PostgresTimestamp(rawValue: 820_638_245_000_000))))
        #expect(try PGOutputMessage.decode(from: bytes, context: parallel) == expected)
        #expect(expected.encode() == bytes)
        // Without streaming = parallel the same bytes have 16 bytes too many.
        let error = decodeError(bytes)
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 9)
        // And the short form is truncated for a parallel stream.
        #expect(decodeError(hex("41 00000328 00000328"), context: parallel)?.code == .truncated)
        #expect(PGOutputDecoder(protocolVersion: 4, streaming: .parallel).context.streamAbortHasAbortInfo)
        #expect(!PGOutputDecoder(protocolVersion: 4, streaming: .on).context.streamAbortHasAbortInfo)
        #expect(!PGOutputDecoder(protocolVersion: 2, streaming: .on).context.streamAbortHasAbortInfo)
    }

    @Test func changeMessagesCarryTheXIDInsideAStreamBlock() throws {
        let xid = "00000328"
        let cases: [([UInt8], PGOutputMessage)] = [
            (hex("49 \(xid) 0000400C 4E 0001 74 00000001 31"),
             .insert(.init(xid: 808, relationID: 16_396, newTuple: TupleData([.text(utf8("1"))])))),
            (hex("55 \(xid) 0000400C 4E 0001 6E"),
             .update(.init(xid: 808, relationID: 16_396, newTuple: TupleData([.null])))),
            (hex("44 \(xid) 0000400C 4B 0001 6E"),
             .delete(.init(xid: 808, relationID: 16_396, old: .key(TupleData([.null]))))),
            (hex("54 \(xid) 00000001 00 0000400C"),
             .truncate(.init(xid: 808, relationIDs: [16_396]))),
            (hex("52 \(xid) 0000400C") + cstr("public") + cstr("stream_t") + hex("64 0000"),
             .relation(.init(xid: 808, relationID: 16_396, namespace: "public", name: "stream_t", replicaIdentity: .default, columns: []))),
            (hex("59 \(xid) 00004003") + cstr("public") + cstr("mood"),
             .type(.init(xid: 808, typeOID: 16_387, namespace: "public", name: "mood"))),
            (hex("4D \(xid) 01 0000000000000010") + cstr("p") + hex("00000000"),
             .message(.init(xid: 808, flags: .transactional, lsn: LSN(16), prefix: "p", content: []))),
        ]
        for (bytes, expected) in cases {
            #expect(try PGOutputMessage.decode(from: bytes, context: Self.inStream) == expected)
            #expect(expected.encode() == bytes)
            // Outside a block the xid would be read as the next field: these bytes do not parse.
            #expect(throws: PGOutputError.self) { try PGOutputMessage.decode(from: bytes) }
        }
    }

    @Test func transactionBoundariesHaveNoStreamXID() throws {
        // Begin / Commit / Stream Commit keep their layout inside a block.
        let begin = hex("42 00000000019442D8 0002EA5DBB151340 000002E5")
        #expect(try PGOutputMessage.decode(from: begin, context: Self.inStream) == PGOutputMessage.decode(from: begin))
    }
}
