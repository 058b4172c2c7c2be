import BinaryIO
import Foundation

/// Committed offsets of consumer groups, one file per group under `<log dir>/__consumer_offsets/`:
/// `<group>.json`, a JSON object {"<topic>-<partition>": next offset}. Replaced atomically
/// (temporary file, fsync, rename, directory fsync), so a crash leaves the old or new offsets.
public struct ConsumerGroups: Sendable {
    public static let directoryName = "__consumer_offsets"
    public let path: String

    public init(logDirectory: String) {
        path = logDirectory + "/" + Self.directoryName
    }

    public func committedOffsets(group: String) throws(SegmentLogError) -> [TopicPartition: Int64] {
        try Self.validate(group: group)
        let file = path + "/" + group + ".json"
        guard let bytes = try FileIO.readFile(file) else { return [:] }
        let decoded: [String: Int64]
        do { decoded = try JSONDecoder().decode([String: Int64].self, from: Data(bytes)) } catch {
            throw SegmentLogError(.corruptStateFile, "consumer group offsets do not parse: \(error)", path: file)
        }
        var offsets: [TopicPartition: Int64] = [:]
        for (name, offset) in decoded {
            guard let tp = TopicPartition(directoryName: name), offset >= 0 else {
                throw SegmentLogError(.corruptStateFile, "bad entry \(name): \(offset)", path: file)
            }
            offsets[tp] = offset
        }
        return offsets
    }

    /// Merges `offsets` (the next offset to read per partition) into the group's file.
    /// `afterTemporaryWrite` runs once the new file is durable under its temporary name.
    public func commit(group: String, offsets: [TopicPartition: Int64], afterTemporaryWrite: () -> Void = {}) throws(SegmentLogError) {
        try Self.validate(group: group)
        var merged = try committedOffsets(group: group)
        merged.merge(offsets) { _, new in new }
        if !FileIO.exists(path) {
            // The directory's own entry must be durable too, or a power loss takes the group's
            // first offsets with it.
            try FileIO.createDirectory(path)
            try FileIO.syncDirectory(FileIO.directory(of: path))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(Dictionary(uniqueKeysWithValues: merged.map { ($0.key.directoryName, $0.value) })) } catch {
            throw SegmentLogError(.io, "cannot encode offsets: \(error)")
        }
        try FileIO.writeAtomically(path + "/" + group + ".json", Array(data), afterTemporaryWrite: afterTemporaryWrite)
    }

    /// The groups that have committed offsets, sorted.
    public func groups() throws(SegmentLogError) -> [String] {
        guard FileIO.exists(path) else { return [] }
        return try FileIO.listDirectory(path).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
            .filter { (try? Self.validate(group: $0)) != nil }.sorted()
    }

    /// Group names follow the topic name rules, which also keeps them safe as file names.
    public static func validate(group: String) throws(SegmentLogError) {
        do { try TopicPartition.validate(topic: group) } catch {
            throw SegmentLogError(.invalidArgument, "group name: \(error.message)")
        }
    }
}
