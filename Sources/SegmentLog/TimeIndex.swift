import BinaryIO
/// `.timeindex`: (timestamp int64, relative offset int32) pairs meaning "the largest timestamp
/// of the records up to this offset is this timestamp"; timestamps rise strictly.
struct TimeIndexEntry: Hashable, Sendable {
    var timestamp: Int64
    var relativeOffset: Int32

    static let size = 12

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendInteger(timestamp)
        out.appendInteger(relativeOffset)
        return out
    }
}

enum TimeIndex {
    static let suffix = "timeindex"

    static func decode(_ bytes: [UInt8]) throws(SegmentLogError) -> [TimeIndexEntry] {
        guard bytes.count % TimeIndexEntry.size == 0 else {
            throw SegmentLogError(.corruptIndex, "time index size \(bytes.count) is not a multiple of 12")
        }
        var reader = ByteReader(bytes)
        var entries: [TimeIndexEntry] = []
        while !reader.isAtEnd {
            let entry = TimeIndexEntry(timestamp: try reader.readInteger(), relativeOffset: try reader.readInteger())
            if let last = entries.last, entry.timestamp <= last.timestamp || entry.relativeOffset < last.relativeOffset {
                throw SegmentLogError(.corruptIndex, "time index entries out of order")
            }
            guard entry.relativeOffset >= 0 else { throw SegmentLogError(.corruptIndex, "negative offset in time index") }
            entries.append(entry)
        }
        return entries
    }

    /// The relative offset after which the first record with a timestamp >= `timestamp` must
    /// lie: the greatest entry with a smaller timestamp says every record up to its offset is
    /// older. Nil when the search must start at the segment's beginning.
    static func lastOffsetBefore(_ timestamp: Int64, in entries: [TimeIndexEntry]) -> Int32? {
        var low = 0, high = entries.count - 1
        var found: Int32?
        while low <= high {
            let middle = (low + high) / 2
            if entries[middle].timestamp < timestamp {
                found = entries[middle].relativeOffset
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }
}
