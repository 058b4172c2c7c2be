import BinaryIO
/// `.lsnindex` (Outflow's own, beside Kafka's indexes): sparse (lsn uint64, relative offset
/// int32) pairs. The LSN is the `outflow.lsn` header of the first record of the batch starting
/// at that offset. Entries are written at the first data batch of a segment and then at
/// offset index points at least `LogConfig.lsnIndexIntervalBytes` apart, only when the LSN
/// rises, so they are strictly increasing.
///
/// Committed source transactions reach the log in commit order, so LSNs never fall along the
/// committed records of a partition. Seeking to LSN L: in the last segment whose first entry
/// is below L, start at the greatest entry below L and scan forward to the first record whose
/// LSN is >= L. Aborted data may carry LSNs above later committed ones; that can only make the
/// start earlier, never skip a record, because the scan goes forward from there.
struct LSNIndexEntry: Hashable, Sendable {
    var lsn: UInt64
    var relativeOffset: Int32

    static let size = 12

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendInteger(lsn)
        out.appendInteger(relativeOffset)
        return out
    }
}

enum LSNIndex {
    static let suffix = "lsnindex"

    static func decode(_ bytes: [UInt8]) throws(SegmentLogError) -> [LSNIndexEntry] {
        guard bytes.count % LSNIndexEntry.size == 0 else {
            throw SegmentLogError(.corruptIndex, "LSN index size \(bytes.count) is not a multiple of 12")
        }
        var reader = ByteReader(bytes)
        var entries: [LSNIndexEntry] = []
        while !reader.isAtEnd {
            let entry = LSNIndexEntry(lsn: try reader.readInteger(), relativeOffset: try reader.readInteger())
            if let last = entries.last, entry.lsn <= last.lsn || entry.relativeOffset <= last.relativeOffset {
                throw SegmentLogError(.corruptIndex, "LSN index entries out of order")
            }
            entries.append(entry)
        }
        return entries
    }

    /// Relative offset of the greatest entry whose LSN is below `lsn`.
    static func startOffset(before lsn: UInt64, in entries: [LSNIndexEntry]) -> Int32? {
        var low = 0, high = entries.count - 1
        var found: Int32?
        while low <= high {
            let middle = (low + high) / 2
            if entries[middle].lsn < lsn {
                found = entries[middle].relativeOffset
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }
}
