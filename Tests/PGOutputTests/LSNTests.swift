import Testing
import PGOutput

@Suite struct LSNTests {
    @Test(arguments: [("0/0", UInt64(0)), ("0/1A2B3C4", 0x1A2B3C4), ("16/B374D848", 0x16_B374_D848), ("FFFFFFFF/FFFFFFFF", .max)])
    func parsesAndPrints(text: String, value: UInt64) {
        #expect(LSN(text)?.rawValue == value)
        #expect(LSN(value).description == text)
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
