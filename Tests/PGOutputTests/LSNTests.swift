import Testing
import PGOutput

@Suite struct LSNTests {
    @Test(arguments: [("0/0", UInt64(0)), ("0/1A2B3C4", 0x1A2B3C4), ("16/B374D848", 0x16_B374_D848), ("FFFFFFFF/FFFFFFFF", .max)])
    func parsesAndPrints(text: String, value: UInt64) {
        #expect(LSN(text)?.rawValue == value)
        #expect(LSN(value).description == text)
    }

    /// The hand-built text agrees with the standard library's hexadecimal formatting.
    @Test func printsAsTheStandardLibraryFormatsHex() {
        var generator = SystemRandomNumberGenerator()
        let edges: [UInt64] = [0, 1, 0xF, 0x10, 0xFFFF_FFFF, 0x1_0000_0000, 0x10_0000_0000, .max]
        for value in edges + (0..<10_000).map({ _ in UInt64.random(in: 0...(.max), using: &generator) >> UInt64.random(in: 0...63, using: &generator) }) {
            let expected = String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
            #expect(LSN(value).description == expected)
            #expect(LSN(value).text == Array(expected.utf8))
        }
    }

    @Test(arguments: ["", "/", "0/", "/0", "1", "0x1/2", "123456789/0", "0/123456789", "g/0", "0/-1", " 0/1"])
    func rejectsMalformed(text: String) {
        #expect(LSN(text) == nil)
    }

    @Test func ordersAndMeasures() {
        let a = LSN("0/100")!, b = LSN("1/0")!
        #expect(a < b)
        #expect(b.distance(from: a) == 0x1_0000_0000 - 0x100)
        #expect(a.distance(from: b) == nil)
        #expect(LSN(.max) + 1 == LSN(.max))
        #expect(a + 0x10 == LSN("0/110"))
    }
}
