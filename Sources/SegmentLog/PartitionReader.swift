import BinaryIO
import Foundation

/// Reads one partition in offset order at an isolation level, safely while a writer appends:
/// a batch not yet completely written is not there yet. Not thread-safe; one per consumer.
public final class PartitionReader {
    public let topicPartition: TopicPartition
    public let isolation: IsolationLevel
    /// The next offset `poll` delivers from.
    public private(set) var position: Int64
    private let directory: SegmentDirectory
    private let limits: DecodeLimits
    private var cursor: Cursor?
    private var tail: TailScan?
    private var abortedCache: [Int64: [AbortedTransaction]] = [:]

    /// Where the next batch is read from.
    private struct Cursor {
        var base: Int64
        var file: FileHandleBox
        /// Kept between calls so its read-ahead window serves many small batches.
        var scanner: BatchScanner
        /// Offsets only rise; the CRC does not cover them, so this catches a damaged one.
        var minimumOffset: Int64
        /// Read from the segment's first byte, so every marker in it passes by.
        var fromSegmentStart: Bool
        /// ABORT markers passed in this segment: (producer, marker offset), to check `.txnindex`.
        var abortMarkers: Set<[Int64]> = []
    }

    /// Scan of the newest segment that tracks open transactions, for the last stable offset.
    private struct TailScan {
        var base: Int64
        var file: FileHandleBox
        var bytePosition: Int64
        var endOffset: Int64
        var open: [Int64: Int64]
    }

    init(directory path: String, topicPartition: TopicPartition, isolation: IsolationLevel, limits: DecodeLimits) throws(SegmentLogError) {
        self.topicPartition = topicPartition
        self.isolation = isolation
        self.directory = SegmentDirectory(path: path)
        self.limits = limits
        self.position = 0
        try seekToBeginning()
    }

    /// The segment list, listed again only when the directory changed (its mtime moves when
    /// a segment is created or deleted), since a poll asks for it several times. File system
    /// timestamps can be coarse, so a directory changed in the last seconds is always listed.
    private var listing: (stamp: [Int], bases: [Int64])?

    private func baseOffsets() throws(SegmentLogError) -> [Int64] {
        var info = stat()
        guard stat(directory.path, &info) == 0 else { return try directory.baseOffsets() }
        let stamp = [Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_ino), Int(info.st_nlink)]
        let settled = wallClockMilliseconds() / 1000 - Int64(info.st_mtim.tv_sec) > 2
        if settled, let listing, listing.stamp == stamp { return listing.bases }
        let bases = try directory.baseOffsets()
        listing = (stamp, bases)
        return bases
    }

    // MARK: Bounds

    /// Offset of the first record still stored (retention deletes older segments).
    public func logStartOffset() throws(SegmentLogError) -> Int64 { try baseOffsets().first ?? 0 }

    /// The offset after the last complete batch.
    public func endOffset() throws(SegmentLogError) -> Int64 { try refreshTail().endOffset }

    /// First offset of the oldest open transaction, or the end offset when none is open.
    public func lastStableOffset() throws(SegmentLogError) -> Int64 {
        let tail = try refreshTail()
        return tail.open.values.min() ?? tail.endOffset
    }

    /// The partition's bounds, read together.
    public func offsets() throws(SegmentLogError) -> PartitionOffsets {
        let tail = try refreshTail()
        return PartitionOffsets(
            logStartOffset: try logStartOffset(), endOffset: tail.endOffset, lastStableOffset: tail.open.values.min() ?? tail.endOffset)
    }

    /// The highest offset `poll` may deliver up to (exclusive) at this reader's isolation.
    func upperBound() throws(SegmentLogError) -> Int64 {
        isolation == .readCommitted ? try lastStableOffset() : try endOffset()
    }

    private func refreshTail() throws(SegmentLogError) -> TailScan {
        guard let newest = try baseOffsets().last else {
            return TailScan(base: 0, file: try FileHandleBox.readOnly("/dev/null"), bytePosition: 0, endOffset: 0, open: [:])
        }
        if tail?.base != newest {
            let file = try FileHandleBox.readOnly(directory.files(newest).log)
            let open = directory.producersAtStart(newest).compactMapValues(\.openTransactionFirstOffset)
            tail = TailScan(base: newest, file: file, bytePosition: 0, endOffset: newest, open: open)
        }
        var scan = tail!
        var scanner = BatchScanner(file: scan.file, from: scan.bytePosition, fileSize: try scan.file.size(), limits: limits)
        scanLoop: while true {
            switch try scanner.next() {
            case .batch(let found):
                let header = found.header
                if header.hasProducerId {
                    if header.isControl { scan.open[header.producerId] = nil }
                    else if header.isTransactional && scan.open[header.producerId] == nil { scan.open[header.producerId] = header.baseOffset }
                }
                scan.endOffset = header.nextOffset
                scan.bytePosition = scanner.position
            case .damaged(let at, let length, let error):
                // A torn tail waits for the writer's recovery; damage before valid data is an error.
                if try scanner.validBatchFollows(damageAt: at, length: length) {
                    throw SegmentLogError(.corruptSegment, error.message, path: scan.file.path, position: at)
                }
                break scanLoop
            case .end, .incomplete:
                break scanLoop
            }
        }
        tail = scan
        return scan
    }

    // MARK: Seeking

    public func seekToBeginning() throws(SegmentLogError) {
        try seek(toOffset: try logStartOffset())
    }

    public func seekToEnd() throws(SegmentLogError) {
        try seek(toOffset: try upperBound())
    }

    /// Positions at `offset`; an offset before the log start moves to the log start.
    public func seek(toOffset offset: Int64) throws(SegmentLogError) {
        let bases = try baseOffsets()
        guard let first = bases.first else {
            position = 0
            cursor = nil
            return
        }
        let target = max(offset, first)
        let base = bases.last { $0 <= target } ?? first
        let file = try FileHandleBox.readOnly(directory.files(base).log)
        var bytePosition: Int64 = 0
        if let entry = OffsetIndex.entry(for: target - base, in: directory.offsetIndex(base, logSize: try file.size())) {
            // Trust the entry only if the batch there ends at the offset it names; a damaged
            // index then costs a scan from the segment start, never a skipped record. The same
            // check covers a sealed segment recompressed meanwhile (`SegmentRecompression`): the
            // `.log` opened above and the `.index` just read may be one old and one new, but the
            // batch ending at an offset sits at one position only in each file, so a position of
            // the other file's index is never taken (and the batch's CRC is checked on reading).
            let head = try file.read(count: BatchHeader.size, at: Int64(entry.position))
            if let header = try? BatchHeader.parse(head), header.lastOffset == base + Int64(entry.relativeOffset) {
                bytePosition = Int64(entry.position)
            }
        }
        cursor = Cursor(
            base: base, file: file, scanner: BatchScanner(file: file, from: bytePosition, fileSize: try file.size(), limits: limits),
            minimumOffset: base, fromSegmentStart: bytePosition == 0)
        position = target
    }

    /// Positions so that about the last `count` records visible at this isolation remain:
    /// markers and aborted records take offsets too, so the window doubles until it holds
    /// enough (or reaches the log start).
    public func seek(toLastRecords count: Int) throws(SegmentLogError) {
        try seekToEnd()
        let end = position
        let start = try logStartOffset()
        guard count > 0 else { return }
        var window = Int64(count)
        while true {
            let from = max(start, end - window)
            try seek(toOffset: from)
            var offsets: [Int64] = []
            while position < end, case let batch = try poll(), !batch.isEmpty {
                offsets += batch.map(\.offset).filter { $0 < end }
            }
            if offsets.count >= count || from == start {
                try seek(toOffset: offsets.count > count ? offsets[offsets.count - count] : from)
                return
            }
            window *= 2
        }
    }

    /// Positions at the first record whose timestamp is >= `timestamp` (the end if none).
    public func seek(toTimestamp timestamp: Int64) throws(SegmentLogError) {
        let bases = try baseOffsets()
        // The first segment whose newest record is recent enough; the active one otherwise.
        var chosen = bases.last ?? 0
        for base in bases.dropLast() where (directory.timeIndex(base).last?.timestamp ?? .max) >= timestamp {
            chosen = base
            break
        }
        let after = TimeIndex.lastOffsetBefore(timestamp, in: directory.timeIndex(chosen)).map { chosen + Int64($0) + 1 }
        try seek(toOffset: after ?? chosen)
        try advance { $0.timestamp >= timestamp }
    }

    /// Positions at the first record whose `outflow.lsn` is >= `lsn`, using the `.lsnindex`
    /// files (see `LSNIndex`); the end if there is none.
    public func seek(toLSN lsn: UInt64) throws(SegmentLogError) {
        let bases = try baseOffsets()
        var start = bases.first ?? 0
        for base in bases {
            let entries = directory.lsnIndex(base)
            guard let firstEntry = entries.first else { continue }
            if firstEntry.lsn < lsn {
                start = base + Int64(LSNIndex.startOffset(before: lsn, in: entries) ?? 0)
            } else {
                break
            }
        }
        try seek(toOffset: start)
        try advance { ($0.record.sourceLSN ?? 0) >= lsn }
    }

    /// Moves `position` forward to the first record (in any transaction state) matching
    /// `predicate`, or to the end offset.
    private func advance(to predicate: (StoredRecord) -> Bool) throws(SegmentLogError) {
        let end = try endOffset()
        while position < end {
            guard let (batch, from) = try nextBatch(upTo: end) else { break }
            if batch.header.isControl { continue }
            for record in try batch.records(limits: limits) where record.offset >= from && predicate(record) {
                // Re-read this batch from its start on the next poll.
                try seek(toOffset: record.offset)
                return
            }
        }
        try seek(toOffset: end)
    }

    // MARK: Reading

    /// Up to about `maxRecords` records from `position` (whole batches), empty at the end.
    public func poll(maxRecords: Int = 500) throws(SegmentLogError) -> [StoredRecord] {
        let bound = try upperBound()
        // Nothing new: the common answer to a reader that follows the log, kept cheap.
        guard position < bound else { return [] }
        var aborted = isolation == .readCommitted ? try abortedTransactions(from: position, below: bound)[...] : []
        var abortedProducers: Set<Int64> = []
        var delivered: [StoredRecord] = []
        while delivered.count < maxRecords, position < bound, let (batch, from) = try nextBatch(upTo: bound) {
            let header = batch.header
            if isolation == .readCommitted && header.hasProducerId {
                // Kafka's consumer-side filter: a producer joins the aborted set when one of
                // its aborted transactions starts at or before this batch, and leaves it at its
                // ABORT marker; its transactional batches in between are dropped.
                while let next = aborted.first, next.firstOffset <= header.lastOffset {
                    abortedProducers.insert(next.producerId)
                    aborted.removeFirst()
                }
                if header.isControl {
                    if try batch.controlMarker()?.type == .abort { abortedProducers.remove(header.producerId) }
                    continue
                }
                if header.isTransactional && abortedProducers.contains(header.producerId) { continue }
            }
            if header.isControl { continue }
            for record in try batch.records(limits: limits) where record.offset >= from {
                delivered.append(record)
            }
        }
        return delivered
    }

    /// Whole batches from `offset` on, exactly as stored (control batches included, CRCs
    /// checked), below this reader's bound — the last stable offset in read_committed, the end
    /// offset otherwise: the first batch whatever its size, then as many as fit in `maxBytes`.
    /// With the partition's bounds and, in read_committed, the aborted transactions the batches
    /// overlap, this is what a Kafka Fetch response carries for a partition; a consumer drops
    /// the aborted batches itself. Leaves `position` after the last batch returned.
    public func fetch(from offset: Int64, maxBytes: Int) throws(SegmentLogError) -> PartitionFetch {
        let offsets = try offsets()
        let bound = isolation == .readCommitted ? offsets.lastStableOffset : offsets.endOffset
        try seek(toOffset: offset)
        let from = position
        var batches: [RecordBatch] = []
        var bytes = 0
        while position < bound, let (batch, _) = try nextBatch(upTo: bound) {
            if !batches.isEmpty && bytes + batch.bytes.count > maxBytes {
                // Not taken: the next fetch starts with it.
                try seek(toOffset: batch.header.baseOffset)
                break
            }
            batches.append(batch)
            bytes += batch.bytes.count
        }
        let aborted = isolation == .readCommitted && !batches.isEmpty ? try abortedTransactions(from: from, below: position) : []
        return PartitionFetch(batches: batches, offsets: offsets, abortedTransactions: aborted)
    }

    /// The next whole batch below `bound`, advancing `position` past it; nil at the bound or
    /// when the rest is not completely written yet.
    private func nextBatch(upTo bound: Int64) throws(SegmentLogError) -> (batch: RecordBatch, deliverFrom: Int64)? {
        while true {
            if cursor == nil { try seek(toOffset: position) }
            guard var current = cursor else { return nil }
            var step = try current.scanner.next()
            switch step {
            case .incomplete, .end:
                // The writer may have appended since the scanner learned the file size.
                let size = try current.file.size()
                if size != current.scanner.fileSize {
                    current.scanner = BatchScanner(file: current.file, from: current.scanner.position, fileSize: size, limits: limits)
                    step = try current.scanner.next()
                }
            default:
                break
            }
            cursor = current
            let size = current.scanner.fileSize
            switch step {
            case .batch(let found):
                guard found.header.baseOffset >= current.minimumOffset else {
                    throw SegmentLogError(
                        .corruptSegment, "batch offset \(found.header.baseOffset) is below \(current.minimumOffset)",
                        path: current.file.path, position: found.position)
                }
                guard found.header.baseOffset < bound else {
                    // Not deliverable yet: read it again next time.
                    current.scanner.seek(to: found.position)
                    cursor = current
                    return nil
                }
                current.minimumOffset = found.header.nextOffset
                if found.header.isControl, try found.batch.controlMarker()?.type == .abort {
                    current.abortMarkers.insert([found.header.producerId, found.header.baseOffset])
                }
                cursor = current
                if found.header.lastOffset < position { continue }
                let deliverFrom = max(position, found.header.baseOffset)
                position = found.header.nextOffset
                return (found.batch, deliverFrom)
            case .damaged(let at, let length, let error):
                let bases = try baseOffsets()
                if try current.scanner.validBatchFollows(damageAt: at, length: length) || bases.last != current.base {
                    throw SegmentLogError(.corruptSegment, error.message, path: current.file.path, position: at)
                }
                return nil
            case .incomplete(let at), .end(let at):
                // Move on only when a newer segment exists; the active one may still grow.
                let bases = try baseOffsets()
                guard let next = bases.first(where: { $0 > current.base }) else { return nil }
                // Retention deleted this segment (read on through the open file) and the ones
                // after it: the records in between are gone by design, as for a seek before the
                // log start, so the reader goes on from the log start.
                if !bases.contains(current.base), let start = bases.first, current.minimumOffset < start {
                    try seek(toOffset: start)
                    continue
                }
                // A sealed segment is whole and ends where the next begins; anything else means
                // records went missing.
                if at < size || current.minimumOffset != next {
                    throw SegmentLogError(
                        .corruptSegment, "segment ends at offset \(current.minimumOffset) (byte \(at) of \(size)) but the next one starts at \(next)",
                        path: current.file.path, position: at)
                }
                if isolation == .readCommitted && current.fromSegmentStart { try checkAbortedIndex(of: current) }
                let file = try FileHandleBox.readOnly(directory.files(next).log)
                cursor = Cursor(
                    base: next, file: file, scanner: BatchScanner(file: file, from: 0, fileSize: try file.size(), limits: limits),
                    minimumOffset: next, fromSegmentStart: true)
                position = max(position, next)
            }
        }
    }

    /// `.txnindex` has no checksum (it is Kafka's format), so once a reader has passed a whole
    /// sealed segment it checks that the index names exactly the ABORT markers it saw: damage
    /// to the index becomes an error instead of silently changing what read_committed returns.
    private func checkAbortedIndex(of cursor: Cursor) throws(SegmentLogError) {
        let indexed = try directory.abortedTransactions(cursor.base)
        if Set(indexed.map { [$0.producerId, $0.lastOffset] }) != cursor.abortMarkers || indexed.contains(where: { $0.firstOffset > $0.lastOffset }) {
            throw SegmentLogError(
                .corruptIndex, "the aborted transactions index does not match the segment's ABORT markers (\(indexed.count) entries, \(cursor.abortMarkers.count) markers)",
                path: directory.files(cursor.base).path(TxnIndex.suffix))
        }
    }

    /// Aborted transactions that may cover offsets in [from, below), from the `.txnindex` of
    /// the segment holding `from` onwards, ordered by first offset.
    public func abortedTransactions(from: Int64, below bound: Int64) throws(SegmentLogError) -> [AbortedTransaction] {
        let bases = try baseOffsets()
        let startBase = bases.last { $0 <= from } ?? bases.first ?? 0
        var result: [AbortedTransaction] = []
        for base in bases where base >= startBase {
            // A sealed segment's index no longer changes; only the newest one is re-read.
            let entries: [AbortedTransaction]
            if base != bases.last, let cached = abortedCache[base] {
                entries = cached
            } else {
                entries = try directory.abortedTransactions(base)
                if base != bases.last { abortedCache[base] = entries }
            }
            result += entries.filter { $0.lastOffset >= from && $0.firstOffset < bound }
        }
        return result.sorted { $0.firstOffset < $1.firstOffset }
    }
}

/// A partition's bounds: where its records start, end, and end for read_committed.
public struct PartitionOffsets: Sendable, Hashable {
    /// The first offset still stored (retention deletes older segments).
    public var logStartOffset: Int64
    /// The offset after the last complete batch (Kafka's high watermark: everything in the
    /// log is durable when it is read).
    public var endOffset: Int64
    /// The first offset of the oldest open transaction, or `endOffset` when none is open.
    public var lastStableOffset: Int64

    /// A partition with nothing stored yet (declared, not yet written).
    public static let empty = PartitionOffsets(logStartOffset: 0, endOffset: 0, lastStableOffset: 0)
}

/// What `PartitionReader.fetch` read: stored batches and what a consumer needs to use them.
public struct PartitionFetch: Sendable {
    public var batches: [RecordBatch]
    public var offsets: PartitionOffsets
    /// In read_committed, the aborted transactions overlapping the batches (by producer and
    /// first offset), for the consumer to drop their batches; empty in read_uncommitted.
    public var abortedTransactions: [AbortedTransaction]

    /// Nothing read, with the partition's bounds.
    public static func empty(_ offsets: PartitionOffsets) -> PartitionFetch {
        PartitionFetch(batches: [], offsets: offsets, abortedTransactions: [])
    }

    /// The offset after the last batch (where the next fetch continues), or nil when empty.
    public var nextOffset: Int64? { batches.last?.header.nextOffset }
}
