import BinaryIO
/// `.index`: sparse (relative offset int32, file position int32) pairs, one about every
/// `indexIntervalBytes` of log. The offset is the last offset of the batch that starts at the
/// position, as Kafka writes it; a lookup takes the greatest entry at or below the target and
/// scans forward from its position.
struct OffsetIndexEntry: Hashable, Sendable {
    var relativeOffset: Int32
    var position: Int32

    static let size = 8

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendInteger(relativeOffset)
        out.appendInteger(position)
        return out
    }
}

enum OffsetIndex {
    static let suffix = "index"

    /// Parses a whole index file; entries must rise strictly in both offset and position and
    /// point inside a log of `logSize` bytes, or the index is rebuilt.
    static func decode(_ bytes: [UInt8], logSize: Int64) throws(SegmentLogError) -> [OffsetIndexEntry] {
        guard bytes.count % OffsetIndexEntry.size == 0 else {
            throw SegmentLogError(.corruptIndex, "offset index size \(bytes.count) is not a multiple of 8")
        }
        var reader = ByteReader(bytes)
        var entries: [OffsetIndexEntry] = []
        while !reader.isAtEnd {
            let entry = OffsetIndexEntry(relativeOffset: try reader.readInteger(), position: try reader.readInteger())
            if let last = entries.last, entry.relativeOffset <= last.relativeOffset || entry.position <= last.position {
                throw SegmentLogError(.corruptIndex, "offset index entries out of order")
            }
            guard entry.relativeOffset >= 0, entry.position >= 0, Int64(entry.position) < logSize else {
                throw SegmentLogError(.corruptIndex, "offset index entry points outside the log")
            }
            entries.append(entry)
        }
        return entries
    }

    /// Greatest entry whose offset is at or below `relativeOffset`; nil when none (start at 0).
    static func entry(for relativeOffset: Int64, in entries: [OffsetIndexEntry]) -> OffsetIndexEntry? {
        var low = 0, high = entries.count - 1
        var found: OffsetIndexEntry?
        while low <= high {
            let middle = (low + high) / 2
            if Int64(entries[middle].relativeOffset) <= relativeOffset {
                found = entries[middle]
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }
}
