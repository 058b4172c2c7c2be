extension PostgresError.Code {
    /// A column value's text is not what the output function of its type prints.
    public static let invalidValue = PostgresError.Code("invalid_value")
}

extension PostgresError {
    /// How much of a malformed value an error may show: values can be large, and secret.
    static let valueExcerptLimit = 24

    /// The error for `text` not being a valid `typeName` value. The message shows at most a
    /// short, printable excerpt of the text, never all of it.
    static func invalidValue(
        _ typeName: String, _ text: UnsafeBufferPointer<UInt8>, _ reason: String? = nil, hint: String? = nil
    ) -> PostgresError {
        var message = "invalid \(typeName) value \(excerpt(text))"
        if let reason { message += ": \(reason)" }
        return PostgresError(code: .invalidValue, message: message, hint: hint)
    }

    /// `"2024-01-0…" (31 bytes)`: a quoted prefix with control and non-ASCII bytes escaped.
    static func excerpt(_ text: UnsafeBufferPointer<UInt8>) -> String {
        var shown = "\""
        for byte in text.prefix(valueExcerptLimit) {
            switch byte {
            case UInt8(ascii: "\""): shown += "\\\""
            case UInt8(ascii: "\\"): shown += "\\\\"
            case 0x20..<0x7F: shown.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16)
                shown += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        shown += text.count > valueExcerptLimit ? "…\" (\(text.count) bytes)" : "\""
        return shown
    }
}

/// Reads a value's bytes left to right; the parsers' shared vocabulary.
struct ByteCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var isAtEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Consumes `byte` if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Consumes `literal` if it is next.
    mutating func take(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// Consumes a run of decimal digits of at most `maxCount` (and at least one) and returns
    /// its value; nil, consuming nothing, when there is no digit. Up to 18 digits always fit.
    mutating func digits(maxCount: Int = 18) -> (value: Int64, count: Int)? {
        var value: Int64 = 0
        var count = 0
        while count < maxCount, index < bytes.count, bytes[index].isASCIIDigit {
            value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
            index += 1
            count += 1
        }
        return count == 0 ? nil : (value, count)
    }

    /// Exactly `count` digits.
    mutating func fixedDigits(_ count: Int) -> Int64? {
        let start = index
        guard let (value, read) = digits(maxCount: count), read == count else {
            index = start
            return nil
        }
        return value
    }
}
