import Testing
import PostgresSource

extension Values {
    @Suite struct IntervalDecodingTests {
        @Test(arguments: [
            ("00:00:00", Int32(0), Int32(0), Int64(0)),
            ("1 day", 0, 1, 0),
            ("2 mons", 2, 0, 0),
            ("1 year", 12, 0, 0),
            ("1 year 2 mons 3 days 04:05:06.789", 14, 3, 14_706_789_000),
            ("-1 years -2 mons +3 days -04:05:06", -14, 3, -14_706_000_000),
            ("-1 days +02:03:00", 0, -1, 7_380_000_000),
            ("1 mon -1 days", 1, -1, 0),
            ("-00:00:00.000001", 0, 0, -1),
            ("36:00:00", 0, 0, 129_600_000_000),
            ("178000000 years", 2_136_000_000, 0, 0),
            ("-178000000 years -7 mons", -2_136_000_007, 0, 0),
            ("2562047788:00:54.775807", 0, 0, .max),
            ("-2562047788:00:54.775808", 0, 0, .min),
        ])
        func postgresStyleIntervalsKeepTheirThreeFields(text: String, months: Int32, days: Int32, micros: Int64) throws {
            #expect(try decodeValue(text, BuiltinTypeOID.interval) == .interval(PGInterval(months: months, days: days, microseconds: micros)))
        }

        @Test func infiniteIntervalsOfPostgres17() throws {
            #expect(try decodeValue("infinity", BuiltinTypeOID.interval) == .interval(.infinity))
            #expect(try decodeValue("-infinity", BuiltinTypeOID.interval) == .interval(.minusInfinity))
            #expect(PGInterval.infinity.isInfinite && !PGInterval(months: 1, days: 0, microseconds: 0).isInfinite)
        }

        @Test(arguments: ["", "1 week", "@ 1 year", "P1Y2M", "1 year  2 mons", "1 day 1 year", "1 year 1 year", "1:02:03",
                          "2562047788:00:54.775808", "200000000 years", "1 day 04:05", "04:05:06 1 day", "1 day ", " 1 day",
                          "1-2", "1 day 00:60:00", "1.5 days", "3000000000 days"])
        func otherStylesAndMalformedIntervalsAreErrors(text: String) {
            #expect(decodingError(text, BuiltinTypeOID.interval)?.code == .invalidValue)
        }

        @Test func styleErrorsSayWhichStyleIsNeeded() throws {
            let error = try #require(decodingError("P1Y2M3D", BuiltinTypeOID.interval))
            #expect(error.hint?.contains("IntervalStyle=postgres") == true)
        }
    }
}
