/// A position in the PostgreSQL write-ahead log: a 64-bit byte offset, printed as two
/// hexadecimal halves `X/Y` (high 32 bits / low 32 bits), the way Postgres prints `pg_lsn`.
public struct LSN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }

    /// `0/0`: Postgres sends it for messages that have no WAL position of their own
    /// (Relation, Type) and accepts it as "no position" in a standby status update.
    public static let zero = LSN(0)

    /// Parses `X/Y` where X and Y are 1 to 8 hexadecimal digits, as `pg_lsn` accepts them.
    public init?(_ text: some StringProtocol) {
        guard let slash = text.firstIndex(of: "/") else { return nil }
        let high = text[text.startIndex..<slash]
        let low = text[text.index(after: slash)...]
        guard (1...8).contains(high.count), (1...8).contains(low.count),
            high.allSatisfy(\.isHexDigit), low.allSatisfy(\.isHexDigit),
            let h = UInt64(high, radix: 16), let l = UInt64(low, radix: 16)
        else { return nil }
        self.rawValue = (h << 32) | l
    }

    public var description: String { String(decoding: text, as: UTF8.self) }

    /// The `X/Y` form as UTF-8 bytes, built directly: every record Outflow writes carries its
    /// transaction's position in a header, so this is formatted once per source transaction.
    public var text: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(17)
        Self.appendHex(UInt32(truncatingIfNeeded: rawValue >> 32), to: &bytes)
        bytes.append(UInt8(ascii: "/"))
        Self.appendHex(UInt32(truncatingIfNeeded: rawValue), to: &bytes)
        return bytes
    }

    private static func appendHex(_ value: UInt32, to bytes: inout [UInt8]) {
        var shift = 28
        while shift > 0 && (value >> UInt32(shift)) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            let digit = UInt8((value >> UInt32(shift)) & 0xF)
            bytes.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "A") + digit - 10)
            shift -= 4
        }
    }

    public static func < (lhs: LSN, rhs: LSN) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The position `bytes` further on. WAL positions never wrap: overflow saturates at the maximum.
    public static func + (lhs: LSN, bytes: UInt64) -> LSN {
        let (sum, overflow) = lhs.rawValue.addingReportingOverflow(bytes)
        return LSN(overflow ? .max : sum)
    }

    /// The distance in bytes from `rhs` to `lhs`, or nil when `rhs` is ahead.
    public func distance(from earlier: LSN) -> UInt64? {
        rawValue >= earlier.rawValue ? rawValue - earlier.rawValue : nil
    }
}
