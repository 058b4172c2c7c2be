/// Intervals as Postgres prints them with `IntervalStyle=postgres` (the default):
///
///     1 year 2 mons 3 days 04:05:06.789
///     -1 years -2 mons +3 days -04:05:06
///     -1 days +02:03:00
///     00:00:00
///     2562047788:00:54.775807
///     infinity, -infinity                 (Postgres 17)
///
/// Each of years, months, days is printed when non-zero, with its own sign (a `+` only after
/// a negative part); the time part, when printed, carries one sign for hours, minutes and
/// seconds together. Years fold into months (12 to the year), as Postgres stores them.
enum IntervalParsing {
    static let styleHint = "the replication session must use IntervalStyle=postgres"

    static func interval(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> PGInterval {
        if text.elementsEqual("infinity".utf8) { return .infinity }
        if text.elementsEqual("-infinity".utf8) { return .minusInfinity }
        var cursor = ByteCursor(text)
        var months: Int64 = 0
        var days: Int64 = 0
        var micros: Int64 = 0
        // Units must come in Postgres' order, each at most once: 0 year, 1 mon, 2 day.
        var nextUnit = 0
        var sawPart = false

        func fail(_ reason: String) -> PostgresError {
            PostgresError.invalidValue(typeName, text, reason, hint: styleHint)
        }

        while !cursor.isAtEnd {
            if sawPart, !cursor.take(UInt8(ascii: " ")) { throw fail("expected a space between parts") }
            let negative: Bool
            if cursor.take(UInt8(ascii: "-")) {
                negative = true
            } else {
                _ = cursor.take(UInt8(ascii: "+"))
                negative = false
            }
            guard let (magnitude, digitCount) = cursor.digits(maxCount: 12), cursor.peek.map({ !$0.isASCIIDigit }) ?? true else {
                throw fail("expected a number")
            }
            let value = negative ? -magnitude : magnitude
            sawPart = true

            if cursor.take(UInt8(ascii: ":")) {
                // The time part ends the interval; hours have at least two digits.
                guard digitCount >= 2, let minutes = cursor.fixedDigits(2), cursor.take(UInt8(ascii: ":")),
                    let seconds = cursor.fixedDigits(2), minutes < 60, seconds < 60
                else {
                    throw fail("expected HH:MM:SS")
                }
                let fraction = try DateTimeParsing.fractionMicroseconds(&cursor, text, typeName)
                guard cursor.isAtEnd else { throw fail("unexpected text after the time") }
                // Int128 so that Int64.min microseconds (-2562047788:00:54.775808) parses.
                let total = Int128(magnitude) * 3_600_000_000 + Int128((minutes * 60 + seconds) * 1_000_000 + fraction)
                guard let signed = Int64(exactly: negative ? -total : total) else { throw fail("out of range") }
                micros = signed
                break
            }

            guard cursor.take(UInt8(ascii: " ")) else { throw fail("expected a unit") }
            let unit: Int
            if cursor.take("year") {
                unit = 0
            } else if cursor.take("mon") {
                unit = 1
            } else if cursor.take("day") {
                unit = 2
            } else {
                throw fail("unknown unit")
            }
            _ = cursor.take(UInt8(ascii: "s"))
            guard unit >= nextUnit else { throw fail("units out of order") }
            nextUnit = unit + 1
            switch unit {
            case 0: months += value * 12  // |value| < 10^12: no overflow; range checked below
            case 1: months += value
            default: days = value
            }
        }
        guard sawPart, let storedMonths = Int32(exactly: months), let storedDays = Int32(exactly: days) else {
            throw fail(sawPart ? "out of range" : "empty interval")
        }
        return PGInterval(months: storedMonths, days: storedDays, microseconds: micros)
    }
}
