import BinaryIO

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
        guard let value = LSNText.parse(text) else { return nil }
        self.rawValue = value
    }

    public var description: String { LSNText.string(rawValue) }

    /// The `X/Y` form as UTF-8 bytes: every record Outflow writes carries its transaction's
    /// position in a header, so this is formatted once per source transaction.
    public var text: [UInt8] { LSNText.format(rawValue) }

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
