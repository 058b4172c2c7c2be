/// A topic and partition; its directory is `<topic>-<partition>` as in Kafka.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32

    /// Validates the topic name by Kafka's rules: 1 to 249 characters of `[a-zA-Z0-9._-]`,
    /// not "." or "..", and a non-negative partition.
    public init(topic: String, partition: Int32) throws(SegmentLogError) {
        try Self.validate(topic: topic)
        guard partition >= 0 else { throw SegmentLogError(.invalidArgument, "partition \(partition) is negative") }
        self.topic = topic
        self.partition = partition
    }

    public static func validate(topic: String) throws(SegmentLogError) {
        guard !topic.isEmpty else { throw SegmentLogError(.invalidTopicName, "topic name is empty") }
        guard topic != "." && topic != ".." else { throw SegmentLogError(.invalidTopicName, "topic name cannot be \"\(topic)\"") }
        guard topic.utf8.count <= 249 else {
            throw SegmentLogError(.invalidTopicName, "topic name is \(topic.utf8.count) characters, the maximum is 249")
        }
        let legal = topic.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard legal else { throw SegmentLogError(.invalidTopicName, "topic \"\(topic)\" has characters outside [a-zA-Z0-9._-]") }
    }

    /// Parses a partition directory name; nil for anything else in the log directory.
    public init?(directoryName name: String) {
        let suffix = name.lastIndex(of: "-").map { name[name.index(after: $0)...] } ?? ""
        // Exactly as Kafka prints it: no sign, no leading zeros, so the name maps back to it.
        guard let dash = name.lastIndex(of: "-"), let partition = Int32(suffix), partition >= 0,
            String(partition) == suffix,
            let parsed = try? TopicPartition(topic: String(name[..<dash]), partition: partition)
        else { return nil }
        self = parsed
    }

    public var directoryName: String { "\(topic)-\(partition)" }
    public var description: String { directoryName }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}

/// `00000000000000000042.log`: Kafka's 20-digit, zero-padded base offset file names.
enum SegmentFileName {
    static func name(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + suffix
    }

    static func baseOffset(of name: String, suffix: String) -> Int64? {
        guard name.hasSuffix("." + suffix) else { return nil }
        let stem = name.dropLast(suffix.count + 1)
        guard stem.count == 20, stem.allSatisfy(\.isNumber) else { return nil }
        return Int64(stem)
    }
}
