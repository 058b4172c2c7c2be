/// Decoders for single (non-array) values, by the shape of their text.
enum ScalarDecoding {
    static func decode(_ kind: ScalarKind, _ text: UnsafeBufferPointer<UInt8>, typeName: String) throws(PostgresError) -> PGValue {
        switch kind {
        case .text: .text(try utf8(text, typeName))
        case .int: .int(try int(text, typeName))
        case .bool: .bool(try bool(text, typeName))
        case .numeric: .numeric(try numeric(text, typeName))
        case .float4: .float4(try float(text, typeName, as: Float.self))
        case .float8: .float8(try float(text, typeName, as: Double.self))
        case .uuid: .uuid(try uuid(text, typeName))
        case .json: .json(try utf8(text, typeName))
        case .bytea: .bytea(try bytea(text, typeName))
        case .date: .date(try DateTimeParsing.date(text, typeName))
        case .time: .time(try DateTimeParsing.time(text, typeName))
        case .timetz: .timetz(try DateTimeParsing.timetz(text, typeName))
        case .timestamp: .timestamp(try DateTimeParsing.timestamp(text, typeName, withOffset: false))
        case .timestamptz: .timestamptz(try DateTimeParsing.timestamp(text, typeName, withOffset: true))
        case .interval: .interval(try IntervalParsing.interval(text, typeName))
        }
    }

    /// Text is kept only when it is valid UTF-8 (the replication connection's encoding):
    /// anything else would be silently altered on the way out.
    static func utf8(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> String {
        guard UTF8Validation.isValid(text) else {
            throw PostgresError.invalidValue(typeName, text, "not valid UTF-8")
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `-?[0-9]+` fitting an Int64, as int2/int4/int8/oid output prints it.
    static func int(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> Int64 {
        var index = 0
        let negative = !text.isEmpty && text[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        guard index < text.count else { throw PostgresError.invalidValue(typeName, text, "not an integer") }
        // Accumulate negatively so Int64.min parses without overflowing.
        var value: Int64 = 0
        while index < text.count {
            let byte = text[index]
            guard byte.isASCIIDigit else { throw PostgresError.invalidValue(typeName, text, "not an integer") }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw PostgresError.invalidValue(typeName, text, "out of range") }
            value = next
            index += 1
        }
        if negative { return value }
        guard value != .min else { throw PostgresError.invalidValue(typeName, text, "out of range") }
        return -value
    }

    static func bool(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> Bool {
        if text.count == 1 {
            if text[0] == UInt8(ascii: "t") { return true }
            if text[0] == UInt8(ascii: "f") { return false }
        }
        throw PostgresError.invalidValue(typeName, text, "expected t or f")
    }

    static func numeric(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> PGNumeric {
        guard PGNumeric.isValid(text) else {
            throw PostgresError.invalidValue(typeName, text, "not a decimal number")
        }
        return PGNumeric(validated: String(decoding: text, as: UTF8.self))
    }

    /// float4/float8 output: `NaN`, `Infinity`, `-Infinity`, or a decimal with an optional
    /// exponent. The grammar is checked first: the C library would also take hex floats,
    /// `inf`, leading spaces. Postgres prints the shortest digits that read back as the same
    /// value (or more, with extra_float_digits), so reading them as `F` is exact.
    static func float<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ text: UnsafeBufferPointer<UInt8>, _ typeName: String, as: F.Type
    ) throws(PostgresError) -> F {
        if text.elementsEqual("NaN".utf8) { return .nan }
        if text.elementsEqual("Infinity".utf8) { return .infinity }
        if text.elementsEqual("-Infinity".utf8) { return -.infinity }
        var cursor = ByteCursor(text)
        _ = cursor.take(UInt8(ascii: "-"))
        var mantissaDigits = 0
        while let byte = cursor.peek, byte.isASCIIDigit { cursor.index += 1; mantissaDigits += 1 }
        if cursor.take(UInt8(ascii: ".")) {
            while let byte = cursor.peek, byte.isASCIIDigit { cursor.index += 1; mantissaDigits += 1 }
        }
        if mantissaDigits > 0, cursor.take(UInt8(ascii: "e")) || cursor.take(UInt8(ascii: "E")) {
            if !cursor.take(UInt8(ascii: "+")) { _ = cursor.take(UInt8(ascii: "-")) }
            guard cursor.digits(maxCount: 5) != nil else { throw PostgresError.invalidValue(typeName, text, "not a number") }
        }
        guard mantissaDigits > 0, cursor.isAtEnd, text.count <= 64,
            let value = F(String(decoding: text, as: UTF8.self))
        else {
            throw PostgresError.invalidValue(typeName, text, "not a number")
        }
        return value
    }

    static func uuid(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> PGUUID {
        guard let uuid = PGUUID.parse(text) else {
            throw PostgresError.invalidValue(typeName, text, "expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
        }
        return uuid
    }

    /// bytea's hex output (`\x0a1b…`, the default since Postgres 9.0) or the older escape
    /// output (`bytea_output = escape`: printable bytes as is, `\\` for a backslash, `\ooo`
    /// octal for the rest).
    static func bytea(_ text: UnsafeBufferPointer<UInt8>, _ typeName: String) throws(PostgresError) -> [UInt8] {
        if text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x") {
            guard text.count % 2 == 0 else { throw PostgresError.invalidValue(typeName, text, "odd number of hex digits") }
            var bytes = [UInt8]()
            bytes.reserveCapacity((text.count - 2) / 2)
            var index = 2
            while index < text.count {
                guard let high = text[index].hexValue, let low = text[index + 1].hexValue else {
                    throw PostgresError.invalidValue(typeName, text, "not a hex digit")
                }
                bytes.append(high << 4 | low)
                index += 2
            }
            return bytes
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            let byte = text[index]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                index += 1
                continue
            }
            if index + 1 < text.count, text[index + 1] == UInt8(ascii: "\\") {
                bytes.append(byte)
                index += 2
                continue
            }
            guard index + 3 < text.count,
                (UInt8(ascii: "0")...UInt8(ascii: "3")).contains(text[index + 1]),
                (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(text[index + 2]),
                (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(text[index + 3])
            else {
                throw PostgresError.invalidValue(typeName, text, "invalid escape")
            }
            bytes.append((text[index + 1] - 48) << 6 | (text[index + 2] - 48) << 3 | (text[index + 3] - 48))
            index += 4
        }
        return bytes
    }
}
