/// Durations and byte sizes as written in pipeline files: `500ms`, `10s`, `1h30m`, `7d`;
/// `1024`, `512KiB`, `64MiB`, `1GB`.
enum DurationsAndSizes {
    static let durationUnits: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// The duration in milliseconds, or nil when the text is not one.
    static func milliseconds(_ text: String) -> Int64? {
        var rest = Substring(text), total: Int64 = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let amount = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix { $0.isASCII && $0.isLetter }
            guard let unit = durationUnits.first(where: { $0.suffix == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            let (product, overflow) = amount.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            let (sum, overflowSum) = total.addingReportingOverflow(product)
            guard !overflowSum else { return nil }
            total = sum
        }
        return total
    }

    static let durationPattern = "^([0-9]+(ms|s|m|h|d))+$"

    static let sizeUnits: [(suffix: String, bytes: Int64)] = [
        ("B", 1), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
    ]

    static let sizePattern = "^[0-9]+(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$"

    static func bytes(_ text: String) -> Int64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let amount = Int64(digits) else { return nil }
        let unitText = text.dropFirst(digits.count)
        if unitText.isEmpty { return amount }
        guard let unit = sizeUnits.first(where: { $0.suffix == unitText }) else { return nil }
        let (product, overflow) = amount.multipliedReportingOverflow(by: unit.bytes)
        return overflow ? nil : product
    }
}

/// A duration from the file, with the text it was written as.
public struct ConfigDuration: Sendable, Hashable, CustomStringConvertible {
    public let milliseconds: Int64
    public let text: String

    public init?(_ text: String) {
        guard let milliseconds = DurationsAndSizes.milliseconds(text) else { return nil }
        self.milliseconds = milliseconds
        self.text = text
    }

    public var duration: Duration { .milliseconds(milliseconds) }
    public var description: String { text }
}

/// A size in bytes from the file, with the text it was written as.
public struct ByteSize: Sendable, Hashable, CustomStringConvertible {
    public let bytes: Int64
    public let text: String

    public init?(_ text: String) {
        guard let bytes = DurationsAndSizes.bytes(text) else { return nil }
        self.bytes = bytes
        self.text = text
    }

    public var description: String { text }
}
