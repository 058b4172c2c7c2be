import BinaryIO
/// One aborted transaction in `.txnindex` (Kafka's AbortedTxn, 34 bytes): kept in the segment
/// holding the ABORT marker. `lastOffset` is the marker's offset; `lastStableOffset` the LSO
/// right after the abort.
public struct AbortedTransaction: Hashable, Sendable {
    public var producerId: Int64
    public var firstOffset: Int64
    public var lastOffset: Int64
    public var lastStableOffset: Int64

    static let size = 34
    static let currentVersion: Int16 = 0

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendInteger(Self.currentVersion)
        out.appendInteger(producerId)
        out.appendInteger(firstOffset)
        out.appendInteger(lastOffset)
        out.appendInteger(lastStableOffset)
        return out
    }
}

enum TxnIndex {
    static let suffix = "txnindex"

    static func decode(_ bytes: [UInt8]) throws(SegmentLogError) -> [AbortedTransaction] {
        guard bytes.count % AbortedTransaction.size == 0 else {
            throw SegmentLogError(.corruptIndex, "transaction index size \(bytes.count) is not a multiple of 34")
        }
        var reader = ByteReader(bytes)
        var entries: [AbortedTransaction] = []
        while !reader.isAtEnd {
            let version: Int16 = try reader.readInteger()
            guard version == AbortedTransaction.currentVersion else {
                throw SegmentLogError(.corruptIndex, "transaction index entry version \(version)")
            }
            let entry = AbortedTransaction(
                producerId: try reader.readInteger(), firstOffset: try reader.readInteger(),
                lastOffset: try reader.readInteger(), lastStableOffset: try reader.readInteger())
            guard entry.firstOffset >= 0, entry.firstOffset <= entry.lastOffset else {
                throw SegmentLogError(.corruptIndex, "transaction index entry with offsets \(entry.firstOffset)...\(entry.lastOffset)")
            }
            entries.append(entry)
        }
        return entries
    }
}
