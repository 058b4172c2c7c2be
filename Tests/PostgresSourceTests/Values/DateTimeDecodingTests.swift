import Testing
import PostgresSource

extension Values {
    /// Expected day and microsecond counts were computed independently with Python's
    /// `datetime` (proleptic Gregorian), shifting years outside 1…9999 by whole 400-year cycles
    /// of 146,097 days.
    @Suite struct DateTimeDecodingTests {
        @Test(arguments: [
            ("2000-01-01", Int32(0)),
            ("1970-01-01", -10957),
            ("2024-02-29", 8825),
            ("0001-01-01", -730119),
            ("0001-12-31 BC", -730120),  // 1 BC is a leap year (astronomical year 0)
            ("0001-02-29 BC", -730426),
            ("0002-06-15 BC", -730685),
            ("0044-03-15 BC", -746117),
            ("4714-11-24 BC", -2451545),  // Postgres' first date, Julian day 0
            ("10000-01-01", 2921940),
            ("5874897-12-31", 2145031948),  // Postgres' last date
        ])
        func datesAreDaysSince2000(text: String, days: Int32) throws {
            #expect(try decodeValue(text, BuiltinTypeOID.date) == .date(.days(sincePostgresEpoch: days)))
        }

        @Test func dateConversions() throws {
            #expect(PGDate.days(sincePostgresEpoch: 8825).daysSinceUnixEpoch == 19782)
            #expect(PGDate(year: 2024, month: 2, day: 29) == .days(sincePostgresEpoch: 8825))
            #expect(PGDate(year: 2023, month: 2, day: 29) == nil)
            #expect(PGDate(year: -43, month: 3, day: 15) == .days(sincePostgresEpoch: -746117))
            let ymd = try #require(PGDate.days(sincePostgresEpoch: -746117).yearMonthDay)
            #expect(ymd.year == -43 && ymd.month == 3 && ymd.day == 15)
            #expect(PGDate.infinity.daysSinceUnixEpoch == nil)
            #expect(try decodeValue("infinity", BuiltinTypeOID.date) == .date(.infinity))
            #expect(try decodeValue("-infinity", BuiltinTypeOID.date) == .date(.minusInfinity))
        }

        @Test(arguments: ["", "2023-02-29", "2024-13-01", "2024-00-10", "2024-01-32", "0000-01-01", "24-01-01", "2024-1-01",
                          "2024-01-01 AD", "2024-01-01 bc", "01/02/2024", "Infinity", "2024-01-01 ", "1234567890-01-01"])
        func malformedDatesAreErrors(text: String) {
            #expect(decodingError(text, BuiltinTypeOID.date)?.code == .invalidValue)
        }

        @Test func timestampsAreMicrosecondsSince2000() throws {
            #expect(try decodeValue("2000-01-01 00:00:00", BuiltinTypeOID.timestamp) == .timestamp(.microseconds(sincePostgresEpoch: 0)))
            #expect(try decodeValue("2024-02-29 13:45:00.123456", BuiltinTypeOID.timestamp)
                == .timestamp(.microseconds(sincePostgresEpoch: 762_529_500_123_456)))
            #expect(try decodeValue("1999-12-31 23:59:59.999999", BuiltinTypeOID.timestamp) == .timestamp(.microseconds(sincePostgresEpoch: -1)))
            #expect(try decodeValue("1970-01-01 00:00:00.5", BuiltinTypeOID.timestamp)
                == .timestamp(.microseconds(sincePostgresEpoch: -946_684_800_000_000 + 500_000)))
            #expect(try decodeValue("0001-12-31 23:59:59 BC", BuiltinTypeOID.timestamp)
                == .timestamp(.microseconds(sincePostgresEpoch: -730120 * 86_400_000_000 + 86_399_000_000)))
            // The last microsecond Postgres stores: Int64 since 2000, not since 1970.
            let last = try decodeValue("294276-12-31 23:59:59.999999", BuiltinTypeOID.timestamp)
            #expect(last == .timestamp(.microseconds(sincePostgresEpoch: 9_223_371_331_199_999_999)))
            #expect(last.jsonFragment == "9224318015999999999")
            #expect(try decodeValue("infinity", BuiltinTypeOID.timestamp) == .timestamp(.infinity))
            #expect(try decodeValue("-infinity", BuiltinTypeOID.timestamp) == .timestamp(.minusInfinity))
        }

        @Test func timestamptzFoldsTheOffsetIntoUTC() throws {
            let utc = PGValue.timestamptz(.microseconds(sincePostgresEpoch: 762_529_500_500_000))
            #expect(try decodeValue("2024-02-29 13:45:00.5+00", BuiltinTypeOID.timestamptz) == utc)
            #expect(try decodeValue("2024-02-29 19:15:00.5+05:30", BuiltinTypeOID.timestamptz) == utc)
            #expect(try decodeValue("2024-02-29 09:45:00.5-04", BuiltinTypeOID.timestamptz) == utc)
            #expect(try decodeValue("2000-01-01 00:00:00-03:30:15", BuiltinTypeOID.timestamptz)
                == .timestamptz(.microseconds(sincePostgresEpoch: 12_615_000_000)))
            // Amsterdam's local mean time before 1937.
            #expect(try decodeValue("1900-01-01 00:00:00+00:19:32", BuiltinTypeOID.timestamptz)
                == .timestamptz(.microseconds(sincePostgresEpoch: -3_155_674_772_000_000)))
            // BC comes after the offset.
            #expect(try decodeValue("0044-03-15 12:00:00+01 BC", BuiltinTypeOID.timestamptz)
                == .timestamptz(.microseconds(sincePostgresEpoch: -746117 * 86_400_000_000 + 11 * 3_600_000_000)))
            #expect(try decodeValue("infinity", BuiltinTypeOID.timestamptz) == .timestamptz(.infinity))
        }

        @Test(arguments: ["2024-02-29", "2024-02-29T13:45:00", "2024-02-29 13:45", "2024-02-29 24:00:00", "2024-02-29 13:60:00",
                          "2024-02-29 13:45:00.1234567", "2024-02-29 13:45:00.", "2024-02-29 13:45:00+00",
                          "Thu Feb 29 13:45:00 2024"])
        func malformedTimestampsAreErrors(text: String) {
            #expect(decodingError(text, BuiltinTypeOID.timestamp)?.code == .invalidValue)
        }

        @Test(arguments: ["2024-02-29 13:45:00", "2024-02-29 13:45:00+16", "2024-02-29 13:45:00+5", "2024-02-29 13:45:00+05:3",
                          "2024-02-29 13:45:00 +05", "2024-02-29 13:45:00 UTC", "2024-02-29 13:45:00+05:60"])
        func malformedTimestamptzAreErrors(text: String) {
            #expect(decodingError(text, BuiltinTypeOID.timestamptz)?.code == .invalidValue)
        }

        @Test func timesAreMicrosecondsSinceMidnight() throws {
            #expect(try decodeValue("00:00:00", BuiltinTypeOID.time) == .time(PGTime(microsecondsSinceMidnight: 0)))
            #expect(try decodeValue("13:45:06.78", BuiltinTypeOID.time) == .time(PGTime(microsecondsSinceMidnight: 49_506_780_000)))
            #expect(try decodeValue("24:00:00", BuiltinTypeOID.time) == .time(PGTime(microsecondsSinceMidnight: 86_400_000_000)))
            #expect(decodingError("24:00:00.000001", BuiltinTypeOID.time)?.code == .invalidValue)
            #expect(decodingError("25:00:00", BuiltinTypeOID.time)?.code == .invalidValue)
            #expect(decodingError("13:45", BuiltinTypeOID.time)?.code == .invalidValue)
        }

        @Test func timetzKeepsItsOffset() throws {
            let value = try decodeValue("13:45:06.000001-03:30:15", BuiltinTypeOID.timetz)
            let expected = PGTimeTZ(microsecondsSinceMidnight: 49_506_000_001, utcOffsetSeconds: -12615)
            #expect(value == .timetz(expected))
            // 13:45:06 at -03:30:15 is 17:15:21 UTC.
            #expect(expected.utcMicrosecondsSinceMidnight == 62_121_000_001)
            // 01:00 at +05:30 is 19:30 UTC the day before.
            #expect(PGTimeTZ(microsecondsSinceMidnight: 3_600_000_000, utcOffsetSeconds: 19800).utcMicrosecondsSinceMidnight
                == 70_200_000_000)
            #expect(decodingError("13:45:06", BuiltinTypeOID.timetz)?.code == .invalidValue)
        }
    }
}
