/// A PostgreSQL `timestamptz` as the replication protocol sends it: microseconds since
/// 2000-01-01 00:00:00 UTC (the Postgres epoch), in an Int64.
///
/// Conversions to and from Unix time saturate instead of trapping: the raw value comes off
/// the wire and may be anything, including Postgres' ±infinity (Int64.min / Int64.max).
public struct PostgresTimestamp: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Microseconds since 2000-01-01 00:00:00 UTC.
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// 2000-01-01 00:00:00 UTC in microseconds since 1970-01-01 00:00:00 UTC (946,684,800 s).
    public static let postgresEpochInUnixMicroseconds: Int64 = 946_684_800_000_000

    /// 2000-01-01 00:00:00 UTC.
    public static let postgresEpoch = PostgresTimestamp(rawValue: 0)

    /// Microseconds since the Unix epoch (1970-01-01 00:00:00 UTC).
    public init(unixMicroseconds: Int64) {
        let (value, overflow) = unixMicroseconds.subtractingReportingOverflow(Self.postgresEpochInUnixMicroseconds)
        self.rawValue = overflow ? .min : value
    }

    /// Seconds and nanoseconds since the Unix epoch, as `clock_gettime(CLOCK_REALTIME)` gives
    /// them; nanoseconds are truncated to microseconds.
    public init(unixSeconds seconds: Int64, nanoseconds: Int64 = 0) {
        let (micros, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        if overflow {
            self.init(rawValue: seconds < 0 ? .min : .max)
        } else {
            let (sum, overflow2) = micros.addingReportingOverflow(nanoseconds / 1000)
            self.init(unixMicroseconds: overflow2 ? (micros < 0 ? .min : .max) : sum)
        }
    }

    /// Microseconds since the Unix epoch, saturating at Int64.max.
    public var unixMicroseconds: Int64 {
        let (value, overflow) = rawValue.addingReportingOverflow(Self.postgresEpochInUnixMicroseconds)
        return overflow ? .max : value
    }

    /// Seconds since the Unix epoch, with microseconds as the fraction.
    public var unixSeconds: Double { Double(unixMicroseconds) / 1_000_000 }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, the way Postgres prints timestamptz in UTC (fraction
    /// trimmed of trailing zeros, omitted when zero); `infinity` / `-infinity` for the two
    /// special values. Years before 1 AD are numbered astronomically (0 = 1 BC, -1 = 2 BC)
    /// where Postgres would append "BC": such commit times do not occur.
    public var description: String {
        if rawValue == .max { return "infinity" }
        if rawValue == .min { return "-infinity" }
        let microsPerDay: Int64 = 86_400_000_000
        // Floor division so times before 2000 land on the right day.
        var days = rawValue / microsPerDay
        var timeOfDay = rawValue % microsPerDay
        if timeOfDay < 0 {
            days -= 1
            timeOfDay += microsPerDay
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), shifted to 2000.
        let z = days + 10_957 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        let seconds = timeOfDay / 1_000_000
        let micros = timeOfDay % 1_000_000
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = "\(year < 0 ? "-" + pad(-year, 4) : pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) "
            + "\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
        if micros != 0 {
            var fraction = pad(micros, 6)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "+00"
    }
}
