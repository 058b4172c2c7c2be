import PGOutput
import Testing

/// Insert, Update, Delete, Truncate and the TupleData they carry.
@Suite struct ChangeMessagesTests {
    @Test func decodesInsertWithEveryColumnKind() throws {
        // 'I', relid 16396, 'N', 5 columns: text "1", null, binary int4 42, empty text, unchanged TOAST
        let bytes = hex("49 0000400C 4E 0005  74 00000001 31  6E  62 00000004 0000002A  74 00000000  75")
        let message = try PGOutputMessage.decode(from: bytes)
        guard case .insert(let insert) = message else {
            Issue.record("not an Insert: \(message)")
            return
        }
        #expect(insert.xid == nil)
        #expect(insert.relationID == 16_396)
        #expect(insert.newTuple.columns == [.text(utf8("1")), .null, .binary([0, 0, 0, 42]), .text([]), .unchangedToast])
        #expect(insert.newTuple.columns.map(\.kind) == [.text, .null, .binary, .text, .unchangedToast])
        #expect(insert.newTuple.columns[1] != .unchangedToast)
        // Values are slices of the input at the value's position: no copy, indices unchanged.
        #expect(insert.newTuple.columns[0].bytes?.startIndex == 13)
        #expect(message.encode() == bytes)
    }

    @Test func decodesUpdateWithNewTupleOnly() throws {
        let bytes = hex("55 0000400C 4E 0002 74 00000002 3130 75")
        let expected = PGOutputMessage.update(.init(relationID: 16_396, old: nil, newTuple: TupleData([.text(utf8("10")), .unchangedToast])))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func decodesUpdateWithKeyTuple() throws {
        // The key changed from 2 to 10: 'K' tuple (non-key columns null), then 'N'.
        let bytes = hex("55 0000400C 4B 0002 74 00000001 32 6E 4E 0002 74 00000002 3130 74 00000001 78")
        let expected = PGOutputMessage.update(.init(
            relationID: 16_396, old: .key(TupleData([.text(utf8("2")), .null])),
            newTuple: TupleData([.text(utf8("10")), .text(utf8("x"))])))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func decodesUpdateWithOldRow() throws {
        // Replica identity full: 'O' with the whole old row; the new tuple may say 'u'.
        let bytes = hex("55 0000400C 4F 0002 74 00000001 31 74 00000003 616263 4E 0002 74 00000001 31 75")
        guard case .update(let update) = try PGOutputMessage.decode(from: bytes) else {
            Issue.record("not an Update")
            return
        }
        #expect(update.old == .oldRow(TupleData([.text(utf8("1")), .text(utf8("abc"))])))
        #expect(update.old?.tuple.columns.count == 2)
        #expect(update.newTuple.columns == [.text(utf8("1")), .unchangedToast])
    }

    @Test func rejectsUpdateWithAnUnknownTupleMarker() {
        let error = decodeError(hex("55 0000400C 58 0000"))
        #expect(error?.code == .invalidValue)
        #expect(error?.offset == 5)
    }

    @Test func rejectsUpdateWithoutNewTupleAfterOld() {
        // 'K' tuple then 'K' again instead of 'N'.
        let error = decodeError(hex("55 0000400C 4B 0001 6E 4B 0001 6E"))
        #expect(error?.code == .invalidValue)
        #expect(error?.offset == 9)
    }

    @Test func decodesDeleteWithKeyAndWithOldRow() throws {
        let key = hex("44 0000400C 4B 0003 74 00000001 33 6E 6E")
        #expect(try PGOutputMessage.decode(from: key) == .delete(.init(relationID: 16_396, old: .key(TupleData([.text(utf8("3")), .null, .null])))))
        let full = hex("44 00004013 4F 0001 74 00000004 322E3235")
        #expect(try PGOutputMessage.decode(from: full) == .delete(.init(relationID: 16_403, old: .oldRow(TupleData([.text(utf8("2.25"))])))))
        // A Delete always has an old tuple: 'N' is not allowed.
        #expect(decodeError(hex("44 0000400C 4E 0000"))?.code == .invalidValue)
    }

    @Test func insertRequiresTheNewTupleMarker() {
        let error = decodeError(hex("49 0000400C 4B 0000"))
        #expect(error?.code == .invalidValue)
        #expect(error?.offset == 5)
        #expect(error?.messageName == "Insert")
    }

    @Test func rejectsAnUnknownColumnKind() {
        // Second column has kind 'x' at offset 14.
        let error = decodeError(hex("49 0000400C 4E 0002 74 00000001 31 78"))
        #expect(error?.code == .invalidValue)
        #expect(error?.offset == 14)
    }

    @Test func rejectsColumnCountBeyondTheBytesLeftBeforeAllocating() {
        // 32767 columns announced with 3 bytes left; and 65535, which is -1 as an Int16.
        let large = decodeError(hex("49 0000400C 4E 7FFF 6E 6E 6E"))
        #expect(large?.code == .truncated)
        #expect(large?.offset == 6)
        let negative = decodeError(hex("49 0000400C 4E FFFF 6E 6E 6E"))
        #expect(negative?.code == .invalidLength)
        #expect(negative?.offset == 6)
    }

    @Test func rejectsValueLengthsBeyondTheBytesLeftOrNegative() {
        let large = decodeError(hex("49 0000400C 4E 0001 74 7FFFFFFF 31"))
        #expect(large?.code == .truncated)
        #expect(large?.offset == 13)
        let negative = decodeError(hex("49 0000400C 4E 0001 62 FFFFFFFF"))
        #expect(negative?.code == .invalidLength)
        #expect(negative?.offset == 9)
    }

    static let truncateOptions: [(UInt8, PGOutputMessage.Truncate.Options)] = [
        (0, []), (1, .cascade), (2, .restartIdentity), (3, [.cascade, .restartIdentity]),
    ]

    @Test(arguments: truncateOptions)
    func decodesTruncate(optionsByte: UInt8, options: PGOutputMessage.Truncate.Options) throws {
        let bytes = hex("54 00000002") + [optionsByte] + hex("0000400C 0000400D")
        let expected = PGOutputMessage.truncate(.init(options: options, relationIDs: [16_396, 16_397]))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }

    @Test func rejectsTruncateCountsBeyondTheBytesLeft() {
        let large = decodeError(hex("54 7FFFFFFF 00 0000400C"))
        #expect(large?.code == .truncated)
        #expect(large?.offset == 1)
        #expect(decodeError(hex("54 FFFFFFFF 00"))?.code == .invalidLength)
        // Five relids announced, one present.
        #expect(decodeError(hex("54 00000005 01 0000400C"))?.code == .truncated)
    }
}
