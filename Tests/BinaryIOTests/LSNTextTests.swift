import Testing

@testable import BinaryIO

@Suite struct LSNTextTests {
    @Test(arguments: [
        ("0/0", UInt64(0)), ("0/16B3748", 0x16B_3748), ("1/0", 1 << 32), ("FFFFFFFF/FFFFFFFF", .max),
        ("ab/cd", 0xAB_0000_00CD), ("00000001/00000002", 0x1_0000_0002),
    ])
    func parses(_ text: String, _ value: UInt64) {
        #expect(LSNText.parse(text) == value)
        #expect(LSNText.parse(Array(text.utf8)) == value)
    }

    @Test(arguments: [
        "", "/", "0/", "/0", "0", "0//0", "0/0/0", "123456789/0", "0/123456789", "g/0", "0/x1", " 0/0", "0/0 ", "-1/0", "+1/0",
        "０/0",  // a fullwidth digit is not an ASCII hex digit
    ])
    func rejects(_ text: String) {
        #expect(LSNText.parse(text) == nil)
    }

    @Test(arguments: [(UInt64(0), "0/0"), (0x16B_3748, "0/16B3748"), (1 << 32, "1/0"), (.max, "FFFFFFFF/FFFFFFFF"), (0xA_0000_000B, "A/B")])
    func formatsInUpperCaseWithoutLeadingZeros(_ value: UInt64, _ text: String) {
        #expect(LSNText.string(value) == text)
        #expect(LSNText.format(value) == Array(text.utf8))
        #expect(LSNText.parse(text) == value)
    }
}

@Suite struct DurationTests {
    @Test func millisecondsRoundUpSoAShortWaitIsNeverZero() {
        #expect(Duration.nanoseconds(1).millisecondsRoundedUp == 1)
        #expect(Duration.milliseconds(5).millisecondsRoundedUp == 5)
        #expect(Duration.microseconds(5001).millisecondsRoundedUp == 6)
        #expect(Duration.zero.millisecondsRoundedUp == 0)
        #expect(Duration.microseconds(5999).milliseconds == 5)
        #expect(Duration.seconds(3).milliseconds == 3000)
    }

    @Test func sleepWaitsAtLeastItsDuration() {
        let clock = ContinuousClock()
        let start = clock.now
        sleep(for: .milliseconds(20))
        #expect(clock.now - start >= .milliseconds(20))
    }
}
