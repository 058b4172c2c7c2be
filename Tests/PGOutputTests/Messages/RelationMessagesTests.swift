import PGOutput
import Testing

/// Relation and Type.
@Suite struct RelationMessagesTests {
    @Test func decodesRelation() throws {
        let bytes = hex("52 0000400C") + cstr("public") + cstr("outbox") + hex("64 0003")
            + hex("01") + cstr("id") + hex("00000014 FFFFFFFF")  // int8, key
            + hex("00") + cstr("name") + hex("00000413 0000002A")  // varchar(38): typmod 38 + 4
            + hex("00") + cstr("mood") + hex("00004003 FFFFFFFF")  // an enum
        let message = try PGOutputMessage.decode(from: bytes)
        guard case .relation(let relation) = message else {
            Issue.record("not a Relation: \(message)")
            return
        }
        #expect(relation.xid == nil)
        #expect(relation.relationID == 16_396)
        #expect(relation.namespace == "public")
        #expect(relation.name == "outbox")
        #expect(relation.replicaIdentity == .default)
        #expect(relation.columns.map(\.name) == ["id", "name", "mood"])
        #expect(relation.columns.map(\.isKey) == [true, false, false])
        #expect(relation.columns.map(\.typeOID) == [20, 1043, 16_387])
        #expect(relation.columns.map(\.typeModifier) == [-1, 42, -1])
        #expect(message.encode() == bytes)
    }

    @Test(arguments: [(UInt8(0x64), "default"), (0x6E, "nothing"), (0x66, "full"), (0x69, "index"), (0x78, "unknown(120)")])
    func keepsEveryReplicaIdentity(byte: UInt8, name: String) throws {
        // pg_catalog is sent as "": an empty namespace and no columns.
        let bytes = hex("52 00000001") + cstr("") + cstr("t") + [byte] + hex("0000")
        guard case .relation(let relation) = try PGOutputMessage.decode(from: bytes) else {
            Issue.record("not a Relation")
            return
        }
        #expect(relation.replicaIdentity.rawValue == byte)
        #expect(relation.replicaIdentity.description == name)
        #expect(relation.namespace == "")
        #expect(relation.columns.isEmpty)
    }

    @Test func decodesUTF8Names() throws {
        let bytes = hex("52 00000001") + cstr("schéma") + cstr("表") + hex("64 0001 00") + cstr("größe") + hex("00000017 FFFFFFFF")
        guard case .relation(let relation) = try PGOutputMessage.decode(from: bytes) else {
            Issue.record("not a Relation")
            return
        }
        #expect(relation.namespace == "schéma")
        #expect(relation.name == "表")
        #expect(relation.columns.first?.name == "größe")
    }

    @Test func rejectsInvalidUTF8() {
        // 0xC3 0x28 is an invalid two-byte sequence; the relation name starts at offset 7.
        let error = decodeError(hex("52 00000001") + cstr("s") + hex("C328 00 64 0000"))
        #expect(error?.code == .invalidUTF8)
        #expect(error?.offset == 7)
    }

    @Test func rejectsUnterminatedName() {
        let error = decodeError(hex("52 00000001") + Array("public".utf8))
        #expect(error?.code == .unterminatedString)
        #expect(error?.offset == 5)
    }

    @Test func rejectsAColumnCountLargerThanTheBytesLeft() {
        // 32767 columns announced, 10 bytes left: fails at the count, before allocating.
        let error = decodeError(hex("52 00000001") + cstr("") + cstr("t") + hex("64 7FFF") + hex("01 00 00000017 FFFFFFFF"))
        #expect(error?.code == .truncated)
        #expect(error?.offset == 9)
        #expect(error?.messageName == "Relation")
    }

    @Test func rejectsANegativeColumnCount() {
        let error = decodeError(hex("52 00000001") + cstr("") + cstr("t") + hex("64 FFFF"))
        #expect(error?.code == .invalidLength)
        #expect(error?.offset == 9)
    }

    @Test func decodesType() throws {
        let bytes = hex("59 00004003") + cstr("public") + cstr("mood")
        let expected = PGOutputMessage.type(.init(typeOID: 16_387, namespace: "public", name: "mood"))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        #expect(expected.encode() == bytes)
    }
}
