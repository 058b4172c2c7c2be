import PGOutput
import Testing

@Suite struct PostgresTimestampTests {
    // 2026-01-02 03:04:05 UTC is 9498 days (26 years with 7 leap days, plus one) and 11045 s
    // after 2000-01-01, and 1767323045 s after 1970-01-01.
    static let raw: Int64 = 9498 * 86_400_000_000 + 11_045_000_000

    @Test func convertsToAndFromUnixTime() {
        let t = PostgresTimestamp(rawValue: Self.raw)
        #expect(Self.raw == 820_638_245_000_000)
        #expect(t.unixMicroseconds == 1_767_323_045_000_000)
        #expect(t.unixSeconds == 1_767_323_045)
        #expect(PostgresTimestamp(unixMicroseconds: 1_767_323_045_000_000) == t)
        #expect(PostgresTimestamp(unixSeconds: 1_767_323_045, nanoseconds: 999) == t)
        #expect(PostgresTimestamp(unixSeconds: 1_767_323_045, nanoseconds: 123_456_789).rawValue == Self.raw + 123_456)
        #expect(PostgresTimestamp(unixMicroseconds: 0).rawValue == -946_684_800_000_000)
    }

    @Test func saturatesInsteadOfTrapping() {
        #expect(PostgresTimestamp(rawValue: .max).unixMicroseconds == .max)
        #expect(PostgresTimestamp(unixMicroseconds: .min).rawValue == .min)
        #expect(PostgresTimestamp(unixSeconds: .max).rawValue == .max)
        #expect(PostgresTimestamp(unixSeconds: .min).rawValue == .min)
    }

    @Test(arguments: [
        (Int64(0), "2000-01-01 00:00:00+00"),
        (raw, "2026-01-02 03:04:05+00"),
        (raw + 123_450, "2026-01-02 03:04:05.12345+00"),
        (-1, "1999-12-31 23:59:59.999999+00"),
        // 2000-02-29 (leap day): 59 days after 2000-01-01.
        (59 * 86_400_000_000, "2000-02-29 00:00:00+00"),
        (-946_684_800_000_000, "1970-01-01 00:00:00+00"),
        (.max, "infinity"), (.min, "-infinity"),
    ])
    func printsLikePostgresInUTC(raw: Int64, text: String) {
        #expect(PostgresTimestamp(rawValue: raw).description == text)
    }
}
