/// Values as JSON, the way a Debezium PostgreSQL connector's JSON change events carry them
/// (with `decimal.handling.mode=string`, `interval.handling.mode=numeric`,
/// `binary.handling.mode=base64`, `time.precision.mode=adaptive`):
///
/// | value       | JSON                                                         |
/// |-------------|--------------------------------------------------------------|
/// | null        | `null`                                                       |
/// | bool        | `true` / `false`                                             |
/// | int         | number                                                       |
/// | numeric     | string of its exact digits (`"1.50"`, `"NaN"`, `"Infinity"`) |
/// | float4/8    | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings      |
/// | text        | string                                                       |
/// | uuid        | string, canonical lower case                                 |
/// | json        | the JSON itself, inline; or as a string (`jsonAsString`), as Debezium's io.debezium.data.Json |
/// | bytea       | base64 string                                                |
/// | date        | days since 1970-01-01 (io.debezium.time.Date)                |
/// | time        | microseconds since midnight (io.debezium.time.MicroTime)     |
/// | timetz      | `"HH:MM:SS[.ffffff]Z"` in UTC (io.debezium.time.ZonedTime)   |
/// | timestamp   | microseconds since 1970-01-01 (io.debezium.time.MicroTimestamp) |
/// | timestamptz | ISO-8601 string in UTC, `"2024-02-29T13:45:00.5Z"` (io.debezium.time.ZonedTimestamp) |
/// | interval    | microseconds, months as 365.25/12 days (io.debezium.time.MicroDuration) |
/// | array       | JSON array, nested per dimension (lower bounds are not shown) |
///
/// Infinite dates and timestamps are the strings `"infinity"` and `"-infinity"`. Numbers
/// beyond what a JSON reader holds exactly (a timestamp in year 294276 as Unix microseconds)
/// are still printed exactly.
extension PGValue {
    /// Where Debezium's JSON depends on configuration.
    public struct JSONOptions: Sendable, Hashable {
        /// json and jsonb values as JSON strings holding the document, as Debezium sends them
        /// (io.debezium.data.Json), instead of the document inline.
        public var jsonAsString: Bool

        public init(jsonAsString: Bool = false) {
            self.jsonAsString = jsonAsString
        }
    }

    /// The value as a JSON fragment.
    public var jsonFragment: String { jsonFragment(options: JSONOptions()) }

    public func jsonFragment(options: JSONOptions) -> String {
        var buffer: [UInt8] = []
        writeJSON(into: &buffer, options: options)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Appends the value's JSON to `buffer`.
    public func writeJSON(into buffer: inout [UInt8], options: JSONOptions = JSONOptions()) {
        switch self {
        case .null:
            JSONWriting.appendLiteral("null", to: &buffer)
        case .bool(let value):
            JSONWriting.appendLiteral(value ? "true" : "false", to: &buffer)
        case .int(let value):
            JSONWriting.appendInteger(value, to: &buffer)
        case .numeric(let value):
            JSONWriting.appendString(value.text, to: &buffer)
        case .float4(let value):
            JSONWriting.appendFloat(value, to: &buffer)
        case .float8(let value):
            JSONWriting.appendFloat(value, to: &buffer)
        case .text(let value):
            JSONWriting.appendString(value, to: &buffer)
        case .json(let value):
            if options.jsonAsString {
                JSONWriting.appendString(value, to: &buffer)
            } else {
                buffer.append(contentsOf: value.utf8)
            }
        case .uuid(let value):
            buffer.append(UInt8(ascii: "\""))
            value.appendCanonical(to: &buffer)
            buffer.append(UInt8(ascii: "\""))
        case .bytea(let bytes):
            JSONWriting.appendBase64(bytes, to: &buffer)
        case .date(let date):
            switch date {
            case .days: JSONWriting.appendInteger(date.daysSinceUnixEpoch!, to: &buffer)
            case .infinity: JSONWriting.appendLiteral("\"infinity\"", to: &buffer)
            case .minusInfinity: JSONWriting.appendLiteral("\"-infinity\"", to: &buffer)
            }
        case .time(let time):
            JSONWriting.appendInteger(time.microsecondsSinceMidnight, to: &buffer)
        case .timetz(let time):
            buffer.append(UInt8(ascii: "\""))
            JSONWriting.appendTimeOfDay(time.utcMicrosecondsSinceMidnight, to: &buffer)
            JSONWriting.appendLiteral("Z\"", to: &buffer)
        case .timestamp(let timestamp):
            switch timestamp {
            case .microseconds(let micros):
                // Int64 arithmetic unless the last 30 years of Postgres' range overflow it.
                let (unix, overflow) = micros.addingReportingOverflow(PGTimestamp.postgresEpochInUnixMicroseconds)
                if overflow {
                    buffer.append(contentsOf: timestamp.microsecondsSinceUnixEpoch!.description.utf8)
                } else {
                    JSONWriting.appendInteger(unix, to: &buffer)
                }
            case .infinity: JSONWriting.appendLiteral("\"infinity\"", to: &buffer)
            case .minusInfinity: JSONWriting.appendLiteral("\"-infinity\"", to: &buffer)
            }
        case .timestamptz(let timestamp):
            switch timestamp {
            case .microseconds(let micros): JSONWriting.appendISO8601UTC(micros, to: &buffer)
            case .infinity: JSONWriting.appendLiteral("\"infinity\"", to: &buffer)
            case .minusInfinity: JSONWriting.appendLiteral("\"-infinity\"", to: &buffer)
            }
        case .interval(let interval):
            if interval == .infinity {
                JSONWriting.appendLiteral("\"infinity\"", to: &buffer)
            } else if interval == .minusInfinity {
                JSONWriting.appendLiteral("\"-infinity\"", to: &buffer)
            } else {
                buffer.append(contentsOf: interval.approximateMicroseconds.description.utf8)
            }
        case .array(let array):
            var next = 0
            JSONWriting.appendArray(array, dimension: 0, next: &next, options: options, to: &buffer)
        }
    }
}

enum JSONWriting {
    static func appendLiteral(_ literal: StaticString, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Swift prints the shortest digits that read back as the same value, in a form JSON
    /// accepts (`1.0`, `1e-05`, `3.4028235e+38`): what Postgres and Java print, too.
    static func appendFloat<F: BinaryFloatingPoint & CustomStringConvertible>(_ value: F, to buffer: inout [UInt8]) {
        if value.isNaN {
            appendLiteral("\"NaN\"", to: &buffer)
        } else if value.isInfinite {
            appendLiteral(value < 0 ? "\"-Infinity\"" : "\"Infinity\"", to: &buffer)
        } else {
            buffer.append(contentsOf: value.description.utf8)
        }
    }

    static func appendInteger(_ value: Int64, to buffer: inout [UInt8]) {
        appendPadded(value, width: 1, to: &buffer)
    }

    /// `value` in decimal, zero-padded to at least `width` digits (after any minus sign).
    static func appendPadded(_ value: Int64, width: Int, to buffer: inout [UInt8]) {
        // Digits are written backwards into a small stack buffer, then appended at once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { digits in
            var magnitude = value.magnitude
            var start = 24
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            while 24 - start < min(width, 20) {
                start -= 1
                digits[start] = UInt8(ascii: "0")
            }
            if value < 0 {
                start -= 1
                digits[start] = UInt8(ascii: "-")
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<24]))
        }
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`-style or `\u00XX`
    /// escapes; everything else (all of Unicode, already valid UTF-8) as is.
    static func appendString(_ string: String, to buffer: inout [UInt8]) {
        var string = string
        string.withUTF8 { appendString(utf8: $0, to: &buffer) }
    }

    static func appendString(utf8 bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var runStart = 0
        for index in bytes.indices {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            runStart = index + 1
            buffer.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): buffer.append(byte)
            case 0x08: buffer.append(UInt8(ascii: "b"))
            case 0x0C: buffer.append(UInt8(ascii: "f"))
            case 0x0A: buffer.append(UInt8(ascii: "n"))
            case 0x0D: buffer.append(UInt8(ascii: "r"))
            case 0x09: buffer.append(UInt8(ascii: "t"))
            default:
                let hex: StaticString = "0123456789abcdef"
                buffer.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                buffer.append(hex.utf8Start[Int(byte >> 4)])
                buffer.append(hex.utf8Start[Int(byte & 0xF)])
            }
        }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        buffer.append(UInt8(ascii: "\""))
    }

    /// Standard base64 with padding (RFC 4648 §4), as a JSON string.
    static func appendBase64(_ bytes: [UInt8], to buffer: inout [UInt8]) {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let table = alphabet.utf8Start
        buffer.reserveCapacity(buffer.count + (bytes.count + 2) / 3 * 4 + 2)
        buffer.append(UInt8(ascii: "\""))
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            buffer.append(table[Int(chunk >> 18 & 63)])
            buffer.append(table[Int(chunk >> 12 & 63)])
            buffer.append(table[Int(chunk >> 6 & 63)])
            buffer.append(table[Int(chunk & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            buffer.append(table[Int(chunk >> 18 & 63)])
            buffer.append(table[Int(chunk >> 12 & 63)])
            buffer.append(rest == 2 ? table[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            buffer.append(UInt8(ascii: "="))
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// `HH:MM:SS` and, when there are any, the fractional digits without trailing zeros
    /// (as java.time's ISO formatters print them).
    static func appendTimeOfDay(_ micros: Int64, to buffer: inout [UInt8]) {
        let seconds = micros / 1_000_000
        appendPadded(seconds / 3600, width: 2, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        appendPadded(seconds / 60 % 60, width: 2, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        appendPadded(seconds % 60, width: 2, to: &buffer)
        var fraction = micros % 1_000_000
        if fraction > 0 {
            var width = 6
            while fraction % 10 == 0 {
                fraction /= 10
                width -= 1
            }
            buffer.append(UInt8(ascii: "."))
            appendPadded(fraction, width: width, to: &buffer)
        }
    }

    /// `"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"`. Years outside 0000…9999 are written as ISO-8601's
    /// expanded years (`+10000`, `-0001` for 2 BC), as java.time writes them.
    static func appendISO8601UTC(_ microsSincePostgresEpoch: Int64, to buffer: inout [UInt8]) {
        // Whole days and the time of day on Postgres' epoch, then days on the Unix epoch:
        // Int64 throughout (Int128 division is slow), and no overflow at the range's end.
        let perDay = DateTimeParsing.microsecondsPerDay
        var days = microsSincePostgresEpoch / perDay
        var timeOfDay = microsSincePostgresEpoch % perDay
        if timeOfDay < 0 {
            days -= 1
            timeOfDay += perDay
        }
        let (year, month, day) = CivilCalendar.civilDate(daysSinceUnixEpoch: days + PGDate.postgresEpochInUnixDays)
        buffer.append(UInt8(ascii: "\""))
        if year > 9999 {
            buffer.append(UInt8(ascii: "+"))
            appendInteger(year, to: &buffer)
        } else if year < 0 {
            buffer.append(UInt8(ascii: "-"))
            appendPadded(-year, width: 4, to: &buffer)
        } else {
            appendPadded(year, width: 4, to: &buffer)
        }
        buffer.append(UInt8(ascii: "-"))
        appendPadded(Int64(month), width: 2, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        appendPadded(Int64(day), width: 2, to: &buffer)
        buffer.append(UInt8(ascii: "T"))
        appendTimeOfDay(timeOfDay, to: &buffer)
        appendLiteral("Z\"", to: &buffer)
    }

    /// The elements of `dimension` onwards, starting at flat index `next`.
    static func appendArray(
        _ array: PGArray, dimension: Int, next: inout Int, options: PGValue.JSONOptions, to buffer: inout [UInt8]
    ) {
        buffer.append(UInt8(ascii: "["))
        if dimension < array.dimensions.count {
            let length = array.dimensions[dimension].length
            for index in 0..<length {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                if dimension + 1 < array.dimensions.count {
                    appendArray(array, dimension: dimension + 1, next: &next, options: options, to: &buffer)
                } else if next < array.elements.count {
                    array.elements[next].writeJSON(into: &buffer, options: options)
                    next += 1
                } else {
                    appendLiteral("null", to: &buffer)  // fewer elements than dimensions say
                }
            }
        }
        buffer.append(UInt8(ascii: "]"))
    }
}
