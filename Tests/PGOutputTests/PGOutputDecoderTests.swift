import PGOutput
import Testing

/// The decoder's one piece of state: inside a Stream Start … Stream Stop block or not.
@Suite struct PGOutputDecoderTests {
    @Test func tracksTheStreamBlock() throws {
        var decoder = PGOutputDecoder(protocolVersion: 2, streaming: .on)
        #expect(!decoder.inStreamBlock)
        #expect(try decoder.decode(hex("53 00000328 01")) == .streamStart(.init(xid: 808, isFirstSegment: true)))
        #expect(decoder.inStreamBlock)
        #expect(decoder.context.inStreamBlock)
        // Inside: the Insert carries xid 808 before its relation id.
        #expect(try decoder.decode(hex("49 00000328 0000400C 4E 0001 6E")) == .insert(.init(xid: 808, relationID: 16_396, newTuple: TupleData([.null]))))
        #expect(try decoder.decode(hex("45")) == .streamStop)
        #expect(!decoder.inStreamBlock)
        // Outside again: a regular transaction's Insert has no xid.
        #expect(try decoder.decode(hex("49 0000400C 4E 0001 6E")) == .insert(.init(relationID: 16_396, newTuple: TupleData([.null]))))
        // Stream Commit arrives after Stream Stop and does not reopen the block.
        _ = try decoder.decode(hex("63 00000328 00 00000000019F0BC8 00000000019F0C00 0002EA5DBB151340"))
        #expect(!decoder.inStreamBlock)
    }

    @Test func decodesAParallelStreamOfProtocol4() throws {
        // PG16+ with streaming = parallel: Stream Abort carries abort_lsn and abort_ts.
        var decoder = PGOutputDecoder(protocolVersion: 4, streaming: .parallel)
        _ = try decoder.decode(hex("53 00000328 01"))
        #expect(try decoder.decode(hex("49 00000329 0000400C 4E 0001 6E")) == .insert(.init(xid: 809, relationID: 16_396, newTuple: TupleData([.null]))))
        _ = try decoder.decode(hex("45"))
        let abort = try decoder.decode(hex("41 00000328 00000329 0000000001A00EB8 0002EA5DBB151340"))
        #expect(abort == .streamAbort(.init(
            xid: 808, subtransactionXID: 809,
            abortInfo: .init(abortLSN: LSN("0/1A00EB8")!, abortTimestamp: PostgresTimestamp(rawValue: 820_638_245_000_000)))))
        // With streaming = on the same server sends the short form.
        var onDecoder = PGOutputDecoder(protocolVersion: 4, streaming: .on)
        #expect(try onDecoder.decode(hex("41 00000328 00000329")) == .streamAbort(.init(xid: 808, subtransactionXID: 809)))
    }

    @Test func aFailedDecodeLeavesTheStateAlone() throws {
        var decoder = PGOutputDecoder(protocolVersion: 2, streaming: .on)
        #expect(throws: PGOutputError.self) { try decoder.decode(hex("53 000003")) }
        #expect(!decoder.inStreamBlock)
        _ = try decoder.decode(hex("53 00000328 00"))
        #expect(throws: PGOutputError.self) { try decoder.decode(hex("45 00")) }
        #expect(decoder.inStreamBlock)
    }

    @Test func unknownMessagesPassThroughWithoutChangingState() throws {
        var decoder = PGOutputDecoder(protocolVersion: 1)
        _ = try decoder.decode(hex("53 00000328 00"))
        #expect(try decoder.decode(hex("21 0102")) == .unknown(tag: 0x21, body: [1, 2][...]))
        #expect(decoder.inStreamBlock)
    }

    @Test func decodesSlicesOfALargerBuffer() throws {
        // An XLogData payload is a slice whose indices do not start at 0: offsets in errors
        // still count from the message's first byte.
        let frame = hex("77 0000000000000000 0000000000000000 0000000000000000 42 0000")
        guard case .xLogData(let data) = try ReplicationFrame.decode(from: frame) else {
            Issue.record("not XLogData")
            return
        }
        var decoder = PGOutputDecoder(protocolVersion: 1)
        let error = #expect(throws: PGOutputError.self) { try decoder.decode(data.payload) }
        #expect(error?.offset == 1)
        #expect(error?.messageName == "Begin")
        #expect(error?.description == "malformed Begin at byte 1 (truncated): final_lsn needs 8 bytes, 2 left")
    }
}
