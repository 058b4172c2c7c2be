/// The text form of a PostgreSQL WAL position (`pg_lsn`): two hexadecimal halves `X/Y`, the
/// high and low 32 bits, each 1 to 8 digits. Postgres prints them in upper case without
/// leading zeros and accepts either case.
package enum LSNText {
    /// The 64-bit position in `X/Y`, nil unless both halves are 1 to 8 ASCII hex digits.
    package static func parse(_ bytes: some Collection<UInt8>) -> UInt64? {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        guard let high = hex(bytes[..<slash]), let low = hex(bytes[bytes.index(after: slash)...]) else { return nil }
        return high << 32 | low
    }

    package static func parse(_ text: some StringProtocol) -> UInt64? { parse(text.utf8) }

    private static func hex(_ digits: some Collection<UInt8>) -> UInt64? {
        guard (1...8).contains(digits.count) else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    /// `X/Y` as UTF-8 bytes, built directly: every record Outflow writes carries its source
    /// transaction's position in a header, so this runs once per source transaction.
    package static func format(_ lsn: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(17)
        appendHex(UInt32(truncatingIfNeeded: lsn >> 32), to: &bytes)
        bytes.append(UInt8(ascii: "/"))
        appendHex(UInt32(truncatingIfNeeded: lsn), to: &bytes)
        return bytes
    }

    package static func string(_ lsn: UInt64) -> String { String(decoding: format(lsn), as: UTF8.self) }

    private static func appendHex(_ value: UInt32, to bytes: inout [UInt8]) {
        var shift = 28
        while shift > 0 && (value >> UInt32(shift)) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            let digit = UInt8((value >> UInt32(shift)) & 0xF)
            bytes.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "A") + digit - 10)
            shift -= 4
        }
    }
}
