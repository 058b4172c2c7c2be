/// Kafka's `uuid` type: 16 bytes, big-endian, as topic ids are sent.
///
/// Its own type rather than Foundation's UUID: this module has no Foundation dependency, and
/// Kafka's all-zero id ("no id") is a value to compare against, not a malformed UUID.
public struct KafkaUUID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The id a broker sends for a topic that has none, and clients send when they know none.
    public static let zero = KafkaUUID(high: 0, low: 0)

    public var description: String {
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(high) + hex(low)
    }
}
