import BinaryIO
import Foundation

/// The partition count of every topic the pipeline declared, in `<log dir>/topics.json`
/// (`{"<topic>": <partition count>}`), replaced atomically.
///
/// A partition's directory appears only on its first write, so the directories alone do not
/// tell how many partitions a topic has; a Kafka client given a partition list with gaps
/// stalls. The writer records the count when a topic first appears; readers take the larger
/// of the declared count and the highest partition directory + 1 (logs written before this
/// file existed have only the directories).
public struct TopicDeclarations: Sendable {
    public static let fileName = "topics.json"
    public let path: String

    public init(logDirectory: String) {
        path = logDirectory + "/" + Self.fileName
    }

    /// The declared partition count per topic; empty when nothing was declared.
    public func partitionCounts() throws(SegmentLogError) -> [String: Int32] {
        guard let bytes = try FileIO.readFile(path) else { return [:] }
        let decoded: [String: Int32]
        do { decoded = try JSONDecoder().decode([String: Int32].self, from: Data(bytes)) } catch {
            throw SegmentLogError(.corruptStateFile, "topic declarations do not parse: \(error)", path: path)
        }
        for (topic, count) in decoded {
            do { try TopicPartition.validate(topic: topic) } catch {
                throw SegmentLogError(.corruptStateFile, "bad topic \(topic): \(error.message)", path: path)
            }
            guard count > 0 else { throw SegmentLogError(.corruptStateFile, "topic \(topic) has \(count) partitions", path: path) }
        }
        return decoded
    }

    /// Records `counts` (merged into what is declared; a count never shrinks, as records may
    /// already sit in the higher partitions). Returns the merged declarations.
    @discardableResult
    public func declare(_ counts: [String: Int32]) throws(SegmentLogError) -> [String: Int32] {
        for (topic, count) in counts {
            try TopicPartition.validate(topic: topic)
            guard count > 0 else { throw SegmentLogError(.invalidArgument, "topic \(topic) needs at least one partition, not \(count)") }
        }
        let current = try partitionCounts()
        let merged = current.merging(counts) { max($0, $1) }
        guard merged != current else { return current }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(merged) } catch { throw SegmentLogError(.io, "cannot encode topic declarations: \(error)") }
        try FileIO.writeAtomically(path, Array(data))
        return merged
    }
}
