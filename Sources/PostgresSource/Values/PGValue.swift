/// One column value decoded from pgoutput, kept exactly as Postgres holds it.
///
/// Nothing here goes through a lossy representation: numerics stay decimal text, dates and
/// timestamps stay integers on Postgres' own epoch (2000-01-01) so every value Postgres can
/// store fits, intervals keep months, days and microseconds apart. Conversions to what
/// consumers want (Unix epochs, Debezium's JSON shapes) are computed from these on output.
///
/// `Equatable` follows the payloads: like `Double`, `.float8(.nan)` is not equal to itself.
public enum PGValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// int2, int4, int8, and the unsigned 32-bit system types oid, xid, cid.
    case int(Int64)
    case numeric(PGNumeric)
    /// A float4 as the exact 32-bit value: widened to a Double it would print with more digits
    /// than Postgres (and Debezium) print for it.
    case float4(Float)
    case float8(Double)
    /// text, varchar, bpchar (padding kept as sent), "char", name, enum labels, and every type
    /// without a decoder of its own (citext, inet, money, geometric types, ranges …).
    case text(String)
    case uuid(PGUUID)
    /// json or jsonb, exactly the text Postgres sent (jsonb's text is its normalized form).
    case json(String)
    case bytea([UInt8])
    case date(PGDate)
    case time(PGTime)
    case timetz(PGTimeTZ)
    case timestamp(PGTimestamp)
    /// The instant, in UTC: the session time zone Postgres printed it in is not part of the
    /// value (timestamptz stores no zone).
    case timestamptz(PGTimestamp)
    case interval(PGInterval)
    case array(PGArray)
}

/// A numeric's exact decimal text as Postgres prints it: `-?digits(.digits)?`, or `NaN`,
/// `Infinity`, `-Infinity`. Trailing zeros are significant (they are the value's scale) and
/// kept.
public struct PGNumeric: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    /// Validates `text` as numeric output; nil when it is not.
    public init?(_ text: String) {
        var text = text
        let valid = text.withUTF8 { PGNumeric.isValid($0) }
        guard valid else { return nil }
        self.text = text
    }

    init(validated text: String) { self.text = text }

    public var isNaN: Bool { text == "NaN" }
    public var isFinite: Bool { !(text == "NaN" || text == "Infinity" || text == "-Infinity") }
    public var description: String { text }

    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if bytes.elementsEqual("NaN".utf8) || bytes.elementsEqual("Infinity".utf8)
            || bytes.elementsEqual("-Infinity".utf8)
        {
            return true
        }
        var index = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        while index < bytes.count, bytes[index].isASCIIDigit { index += 1 }
        guard index > integerStart else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < bytes.count, bytes[index].isASCIIDigit { index += 1 }
            guard index > fractionStart else { return false }
        }
        return index == bytes.count
    }
}

/// A UUID as its 128 bits; printed in the canonical lower-case 8-4-4-4-12 form.
public struct PGUUID: Sendable, Hashable, CustomStringConvertible {
    /// The first 8 bytes, big-endian.
    public var high: UInt64
    /// The last 8 bytes, big-endian.
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the canonical form (either case); nil otherwise.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ PGUUID.parse($0) }) else { return nil }
        self = parsed
    }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public var description: String {
        var text: [UInt8] = []
        text.reserveCapacity(36)
        appendCanonical(to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    func appendCanonical(to buffer: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { text in
            var position = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                let word = nibble < 16 ? high : low
                let shift = UInt64(60 - 4 * (nibble % 16))
                text[position] = digits.utf8Start[Int((word >> shift) & 0xF)]
                position += 1
            }
            buffer.append(contentsOf: UnsafeBufferPointer(text))
        }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> PGUUID? {
        guard bytes.count == 36 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var nibbles = 0
        for (index, byte) in bytes.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let value = byte.hexValue else { return nil }
            if nibbles < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
            nibbles += 1
        }
        return PGUUID(high: high, low: low)
    }
}

/// A calendar date (proleptic Gregorian, as Postgres counts), or one of the infinities.
public enum PGDate: Sendable, Hashable {
    /// Days since 2000-01-01, Postgres' own epoch and representation.
    case days(sincePostgresEpoch: Int32)
    case infinity
    case minusInfinity

    /// Days between 1970-01-01 and 2000-01-01.
    static let postgresEpochInUnixDays: Int64 = 10957

    /// The date of a year (astronomical numbering: 1 BC is 0, 2 BC is -1), month and day;
    /// nil when there is no such day or it is outside what Postgres stores.
    public init?(year: Int, month: Int, day: Int) {
        guard let days = CivilCalendar.daysSinceUnixEpoch(year: Int64(year), month: month, day: day),
            let stored = Int32(exactly: days - PGDate.postgresEpochInUnixDays)
        else { return nil }
        self = .days(sincePostgresEpoch: stored)
    }

    /// Days since 1970-01-01 (what Debezium's io.debezium.time.Date carries); nil for infinities.
    public var daysSinceUnixEpoch: Int64? {
        guard case .days(let days) = self else { return nil }
        return Int64(days) + PGDate.postgresEpochInUnixDays
    }

    /// Year (astronomical: 1 BC is 0), month and day; nil for infinities.
    public var yearMonthDay: (year: Int64, month: Int, day: Int)? {
        daysSinceUnixEpoch.map(CivilCalendar.civilDate(daysSinceUnixEpoch:))
    }
}

/// A timestamp (with or without time zone), or one of the infinities.
public enum PGTimestamp: Sendable, Hashable {
    /// Microseconds since 2000-01-01 00:00:00, Postgres' own epoch and representation, so
    /// its whole range (4713 BC to 294276 AD) fits; measured on a Unix epoch the last 30
    /// years of that range would overflow an Int64.
    case microseconds(sincePostgresEpoch: Int64)
    case infinity
    case minusInfinity

    static let postgresEpochInUnixMicroseconds: Int64 = 946_684_800_000_000

    /// Microseconds since 1970-01-01 00:00:00 (UTC for timestamptz); nil for infinities.
    public var microsecondsSinceUnixEpoch: Int128? {
        guard case .microseconds(let micros) = self else { return nil }
        return Int128(micros) + Int128(PGTimestamp.postgresEpochInUnixMicroseconds)
    }
}

/// A time of day without time zone: 00:00:00 to 24:00:00 inclusive, as Postgres allows.
public struct PGTime: Sendable, Hashable {
    public var microsecondsSinceMidnight: Int64
    public init(microsecondsSinceMidnight: Int64) { self.microsecondsSinceMidnight = microsecondsSinceMidnight }
}

/// A time of day with the UTC offset it was written with (timetz keeps its offset).
public struct PGTimeTZ: Sendable, Hashable {
    /// The local time of day.
    public var microsecondsSinceMidnight: Int64
    /// Seconds east of UTC, ISO-8601's sign (Postgres stores the opposite sign internally).
    public var utcOffsetSeconds: Int32

    public init(microsecondsSinceMidnight: Int64, utcOffsetSeconds: Int32) {
        self.microsecondsSinceMidnight = microsecondsSinceMidnight
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// The same instant's time of day in UTC, wrapped into 0..<24h.
    public var utcMicrosecondsSinceMidnight: Int64 {
        let day: Int64 = 86_400_000_000
        let utc = microsecondsSinceMidnight - Int64(utcOffsetSeconds) * 1_000_000
        return ((utc % day) + day) % day
    }
}

/// An interval as Postgres stores it: months, days and microseconds kept apart, because a
/// month is not a fixed number of days nor a day a fixed number of microseconds.
public struct PGInterval: Sendable, Hashable {
    public var months: Int32
    public var days: Int32
    public var microseconds: Int64

    public init(months: Int32, days: Int32, microseconds: Int64) {
        self.months = months
        self.days = days
        self.microseconds = microseconds
    }

    /// Postgres 17's `infinity` interval is every field at its maximum (and `-infinity` every
    /// field at its minimum): the same encoding here.
    public static let infinity = PGInterval(months: .max, days: .max, microseconds: .max)
    public static let minusInfinity = PGInterval(months: .min, days: .min, microseconds: .min)

    public var isInfinite: Bool { self == .infinity || self == .minusInfinity }

    /// Debezium's io.debezium.time.MicroDuration (interval.handling.mode=numeric): months
    /// count as the average 365.25/12 days (30.4375 days = 2,629,800 s exactly), days as 24
    /// hours. Int128 because 2^31 months of microseconds overflow an Int64.
    public var approximateMicroseconds: Int128 {
        Int128(months) * 2_629_800_000_000 + Int128(days) * 86_400_000_000 + Int128(microseconds)
    }
}

/// An array of any dimension. Postgres arrays are rectangular, so the elements are kept flat
/// in row-major order with each dimension's lower bound and length.
public struct PGArray: Sendable, Hashable {
    public struct Dimension: Sendable, Hashable {
        public var lowerBound: Int32
        public var length: Int
        public init(lowerBound: Int32 = 1, length: Int) {
            self.lowerBound = lowerBound
            self.length = length
        }
    }

    /// The element type's OID (the array type's `typelem`).
    public var elementTypeOID: UInt32
    /// Outermost first; empty for the empty array `{}`.
    public var dimensions: [Dimension]
    /// Row-major; `.null` for NULL elements.
    public var elements: [PGValue]

    public init(elementTypeOID: UInt32, dimensions: [Dimension], elements: [PGValue]) {
        self.elementTypeOID = elementTypeOID
        self.dimensions = dimensions
        self.elements = elements
    }
}

extension UInt8 {
    var isASCIIDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }

    var hexValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
