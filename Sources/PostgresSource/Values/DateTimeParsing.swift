/// Dates, times and timestamps as Postgres prints them with `DateStyle=ISO`:
///
///     date         2024-02-29, 0044-03-15 BC, 10000-01-01, infinity, -infinity
///     time         13:45:00, 24:00:00, 13:45:00.5
///     timetz       13:45:00+05:30, 00:00:00-03:30:15
///     timestamp    2024-02-29 13:45:00.123456, 0001-01-01 00:00:00 BC
///     timestamptz  2024-02-29 13:45:00+00, 1900-01-01 00:00:00+00:19:32, … BC
///
/// The year has four or more digits; `BC` comes last, after the offset. The fraction has up
/// to six digits (Postgres keeps microseconds) and no trailing zeros, but any 1–6 are read.
enum DateTimeParsing {
    static let microsecondsPerDay: Int64 = 86_400_000_000
    static let isoHint = "the replication session must use DateStyle=ISO"

    static func date(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> PGDate {
        if text.elementsEqual("infinity".utf8) { return .infinity }
        if text.elementsEqual("-infinity".utf8) { return .minusInfinity }
        var cursor = ByteCursor(text)
        let days = try calendarDay(&cursor, text, typeName)
        let isBC = era(&cursor)
        guard cursor.isAtEnd else { throw PostgresError.invalidValue(typeName, text, "unexpected text", hint: isoHint) }
        let unixDays = try resolve(days, era: isBC, text, typeName)
        guard let stored = Int32(exactly: unixDays - PGDate.postgresEpochInUnixDays) else {
            throw PostgresError.invalidValue(typeName, text, "out of range")
        }
        return .days(sincePostgresEpoch: stored)
    }

    static func time(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> PGTime {
        var cursor = ByteCursor(text)
        let micros = try timeOfDay(&cursor, text, typeName, allowing24: true)
        guard cursor.isAtEnd else { throw PostgresError.invalidValue(typeName, text, "unexpected text") }
        return PGTime(microsecondsSinceMidnight: micros)
    }

    static func timetz(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> PGTimeTZ {
        var cursor = ByteCursor(text)
        let micros = try timeOfDay(&cursor, text, typeName, allowing24: true)
        let offset = try utcOffset(&cursor, text, typeName)
        guard cursor.isAtEnd else { throw PostgresError.invalidValue(typeName, text, "unexpected text") }
        return PGTimeTZ(microsecondsSinceMidnight: micros, utcOffsetSeconds: offset)
    }

    /// A timestamp, or (`withOffset`) a timestamptz whose printed local time and offset are
    /// folded into the UTC instant.
    static func timestamp(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String, withOffset: Bool) throws(PostgresError) -> PGTimestamp {
        if text.elementsEqual("infinity".utf8) { return .infinity }
        if text.elementsEqual("-infinity".utf8) { return .minusInfinity }
        var cursor = ByteCursor(text)
        let days = try calendarDay(&cursor, text, typeName)
        guard cursor.take(UInt8(ascii: " ")) else {
            throw PostgresError.invalidValue(typeName, text, "expected a time after the date", hint: isoHint)
        }
        let micros = try timeOfDay(&cursor, text, typeName, allowing24: false)
        let offset = withOffset ? try utcOffset(&cursor, text, typeName) : 0
        let isBC = era(&cursor)
        guard cursor.isAtEnd else { throw PostgresError.invalidValue(typeName, text, "unexpected text", hint: isoHint) }
        let unixDays = try resolve(days, era: isBC, text, typeName)
        // Years are limited to nine digits, so this stays far inside Int64 before the check.
        let postgresDays = unixDays - PGDate.postgresEpochInUnixDays
        let (dayMicros, overflow1) = postgresDays.multipliedReportingOverflow(by: microsecondsPerDay)
        let (local, overflow2) = dayMicros.addingReportingOverflow(micros)
        let (utc, overflow3) = local.subtractingReportingOverflow(Int64(offset) * 1_000_000)
        guard !overflow1, !overflow2, !overflow3 else { throw PostgresError.invalidValue(typeName, text, "out of range") }
        return .microseconds(sincePostgresEpoch: utc)
    }

    struct CalendarDay {
        var year: Int64
        var month: Int
        var day: Int
    }

    /// `YYYY-MM-DD` with four to nine year digits.
    static func calendarDay(_ cursor: inout ByteCursor, _ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> CalendarDay {
        guard let (year, yearDigits) = cursor.digits(maxCount: 9), yearDigits >= 4,
            cursor.take(UInt8(ascii: "-")), let month = cursor.fixedDigits(2),
            cursor.take(UInt8(ascii: "-")), let day = cursor.fixedDigits(2)
        else {
            throw PostgresError.invalidValue(typeName, text, "expected YYYY-MM-DD", hint: isoHint)
        }
        return CalendarDay(year: year, month: Int(month), day: Int(day))
    }

    /// A trailing ` BC` (true) or nothing (false).
    static func era(_ cursor: inout ByteCursor) -> Bool {
        cursor.take(" BC")
    }

    /// Days since 1970-01-01 of the printed day; BC years are counted astronomically
    /// (1 BC is year 0).
    static func resolve(_ day: CalendarDay, era bc: Bool, _ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> Int64 {
        guard day.year >= 1 else { throw PostgresError.invalidValue(typeName, text, "year 0 does not exist") }
        let year = bc ? 1 - day.year : day.year
        guard let days = CivilCalendar.daysSinceUnixEpoch(year: year, month: day.month, day: day.day) else {
            throw PostgresError.invalidValue(typeName, text, "no such day")
        }
        return days
    }

    /// `HH:MM:SS[.ffffff]` as microseconds since midnight. `24:00:00` exists for time and
    /// timetz only.
    static func timeOfDay(_ cursor: inout ByteCursor, _ text: UnsafeBufferPointer<UInt8>, _ typeName: String, allowing24: Bool) throws(PostgresError) -> Int64 {
        guard let hour = cursor.fixedDigits(2), cursor.take(UInt8(ascii: ":")),
            let minute = cursor.fixedDigits(2), cursor.take(UInt8(ascii: ":")),
            let second = cursor.fixedDigits(2)
        else {
            throw PostgresError.invalidValue(typeName, text, "expected HH:MM:SS")
        }
        let fraction = try fractionMicroseconds(&cursor, text, typeName)
        guard minute < 60, second < 60,
            hour < 24 || (allowing24 && hour == 24 && minute == 0 && second == 0 && fraction == 0)
        else {
            throw PostgresError.invalidValue(typeName, text, "time of day out of range")
        }
        return ((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction
    }

    /// An optional `.f` to `.ffffff`, as microseconds.
    static func fractionMicroseconds(_ cursor: inout ByteCursor, _ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> Int64 {
        guard cursor.take(UInt8(ascii: ".")) else { return 0 }
        guard let (value, count) = cursor.digits(maxCount: 6), cursor.peek.map({ !$0.isASCIIDigit }) ?? true else {
            throw PostgresError.invalidValue(typeName, text, "expected one to six fractional digits")
        }
        var micros = value
        for _ in count..<6 { micros *= 10 }
        return micros
    }

    /// `+HH`, `+HH:MM` or `+HH:MM:SS` (or `-`) as seconds east of UTC.
    static func utcOffset(_ cursor: inout ByteCursor, _ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> Int32 {
        let sign: Int32
        if cursor.take(UInt8(ascii: "+")) {
            sign = 1
        } else if cursor.take(UInt8(ascii: "-")) {
            sign = -1
        } else {
            throw PostgresError.invalidValue(typeName, text, "expected a UTC offset", hint: isoHint)
        }
        guard let hours = cursor.fixedDigits(2) else {
            throw PostgresError.invalidValue(typeName, text, "expected a UTC offset")
        }
        var minutes: Int64 = 0
        var seconds: Int64 = 0
        if cursor.take(UInt8(ascii: ":")) {
            guard let value = cursor.fixedDigits(2) else { throw PostgresError.invalidValue(typeName, text, "bad UTC offset") }
            minutes = value
            if cursor.take(UInt8(ascii: ":")) {
                guard let value = cursor.fixedDigits(2) else { throw PostgresError.invalidValue(typeName, text, "bad UTC offset") }
                seconds = value
            }
        }
        // Postgres limits offsets to ±15:59:59 (TZDISP_LIMIT).
        guard hours <= 15, minutes < 60, seconds < 60 else {
            throw PostgresError.invalidValue(typeName, text, "UTC offset out of range")
        }
        return sign * Int32(hours * 3600 + minutes * 60 + seconds)
    }
}
