import PGOutput
import Testing

@Suite struct LogicalMessageTests {
    @Test func decodesTransactionalMessage() throws {
        // 'M', flags 1, lsn 0/1944570, prefix "outflow", 8 bytes "hello tx"
        let bytes = hex("4D 01 0000000001944570") + cstr("outflow") + hex("00000008") + Array("hello tx".utf8)
        let message = try PGOutputMessage.decode(from: bytes)
        guard case .message(let logical) = message else {
            Issue.record("not a Message: \(message)")
            return
        }
        #expect(logical.isTransactional)
        #expect(logical.lsn == LSN("0/1944570"))
        #expect(logical.prefix == "outflow")
        #expect(logical.content == utf8("hello tx"))
        #expect(message.encode() == bytes)
    }

    @Test func decodesNonTransactionalMessageWithBinaryContent() throws {
        // Content is any bytes, NULs and invalid UTF-8 included.
        let bytes = hex("4D 00 0000000000000010") + cstr("p") + hex("00000003 00FFC3")
        let expected = PGOutputMessage.message(.init(flags: [], lsn: LSN(16), prefix: "p", content: [0, 0xFF, 0xC3]))
        #expect(try PGOutputMessage.decode(from: bytes) == expected)
        guard case .message(let logical) = expected else { return }
        #expect(!logical.isTransactional)
    }

    @Test func rejectsContentLengthBeyondTheBytesLeft() {
        let error = decodeError(hex("4D 00 0000000000000010") + cstr("p") + hex("00000004 0000"))
        #expect(error?.code == .truncated)
        #expect(error?.offset == 16)
        #expect(error?.messageName == "Message")
    }
}
