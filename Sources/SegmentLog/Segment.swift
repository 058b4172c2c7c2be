import BinaryIO
import Foundation

/// The files of one segment, named by base offset.
struct SegmentFiles {
    let directory: String
    let baseOffset: Int64

    func path(_ suffix: String) -> String {
        directory + "/" + SegmentFileName.name(baseOffset, suffix)
    }
    var log: String { path("log") }
    static let indexSuffixes = [OffsetIndex.suffix, TimeIndex.suffix, LSNIndex.suffix, TxnIndex.suffix]
}

/// The segment being written: appends batches and keeps its four index files in step. Opened
/// for recovery, its indexes are emptied and rebuilt by replaying the batches through `index`.
final class Segment {
    let files: SegmentFiles
    let log: FileHandleBox
    private let offsetIndex: FileHandleBox
    private let timeIndex: FileHandleBox
    private let lsnIndex: FileHandleBox
    private let txnIndex: FileHandleBox
    private let indexInterval: Int
    private let lsnIndexInterval: Int

    private(set) var size: Int64
    private(set) var nextOffset: Int64
    /// Writer clock when the segment got its first batch (or was recovered non-empty), for the
    /// age-based roll. Record timestamps are the source's and may be far in the past.
    var firstAppendTime: Int64?
    private var offsetIndexSize: Int64 = 0
    private var timeIndexSize: Int64 = 0
    private var lsnIndexSize: Int64 = 0
    private var txnIndexSize: Int64 = 0
    private var bytesSinceLastIndexEntry = 0
    private var bytesSinceLastLSNLook = 0
    private var lookedForLSN = false
    private(set) var maxTimestampSoFar: Int64 = -1
    private var offsetOfMaxTimestampSoFar: Int64 = -1
    private var lastTimeIndexTimestamp: Int64 = .min
    private var lastLSNIndexed: UInt64?
    /// Where the last batch starts (-1: none), so the newest commit record is found without a scan.
    private(set) var lastBatchPosition: Int64 = -1

    var baseOffset: Int64 { files.baseOffset }

    /// Opens (creating when absent) the segment files; the indexes are built again from
    /// empty by `index` and `addAbortedTransaction`.
    ///
    /// The `.txnindex` of a segment being recovered (`rebuilding`) is not emptied: readers
    /// that follow the log may be reading it, and without it they would take an aborted
    /// transaction whose ABORT marker they see for a committed one. The rebuild writes the
    /// same entries over it, in place, and `finishRebuild` cuts off what it did not write
    /// again. The other indexes only speed up seeks; a reader finding them short scans.
    convenience init(files: SegmentFiles, indexInterval: Int, lsnIndexInterval: Int, rebuilding: Bool = false) throws(SegmentLogError) {
        try self.init(
            files: files, indexInterval: indexInterval, lsnIndexInterval: lsnIndexInterval,
            indexFlags: O_TRUNC, txnIndexFlags: rebuilding ? 0 : O_TRUNC)
    }

    /// Opens a segment a clean shutdown left as `state` describes (the caller checked the file
    /// sizes): the indexes are kept as they are and appending goes on where the writer stopped.
    convenience init(files: SegmentFiles, indexInterval: Int, lsnIndexInterval: Int, resuming state: ActiveSegmentState) throws(SegmentLogError) {
        try self.init(files: files, indexInterval: indexInterval, lsnIndexInterval: lsnIndexInterval, indexFlags: 0, txnIndexFlags: 0)
        size = state.logSize
        nextOffset = state.nextOffset
        offsetIndexSize = state.offsetIndexSize
        timeIndexSize = state.timeIndexSize
        lsnIndexSize = state.lsnIndexSize
        txnIndexSize = state.txnIndexSize
        bytesSinceLastIndexEntry = Int(state.bytesSinceLastIndexEntry)
        bytesSinceLastLSNLook = Int(state.bytesSinceLastLSNLook)
        lookedForLSN = state.lookedForLSN
        maxTimestampSoFar = state.maxTimestampSoFar
        offsetOfMaxTimestampSoFar = state.offsetOfMaxTimestampSoFar
        lastTimeIndexTimestamp = state.lastTimeIndexTimestamp
        lastLSNIndexed = state.lastLSNIndexed
        lastBatchPosition = state.lastBatchPosition
    }

    private init(files: SegmentFiles, indexInterval: Int, lsnIndexInterval: Int, indexFlags: Int32, txnIndexFlags: Int32) throws(SegmentLogError) {
        self.files = files
        self.indexInterval = indexInterval
        self.lsnIndexInterval = lsnIndexInterval
        log = try FileHandleBox(path: files.log, flags: O_RDWR | O_CREAT)
        offsetIndex = try FileHandleBox(path: files.path(OffsetIndex.suffix), flags: O_RDWR | O_CREAT | indexFlags)
        timeIndex = try FileHandleBox(path: files.path(TimeIndex.suffix), flags: O_RDWR | O_CREAT | indexFlags)
        lsnIndex = try FileHandleBox(path: files.path(LSNIndex.suffix), flags: O_RDWR | O_CREAT | indexFlags)
        txnIndex = try FileHandleBox(path: files.path(TxnIndex.suffix), flags: O_RDWR | O_CREAT | txnIndexFlags)
        size = try log.size()
        nextOffset = files.baseOffset
    }

    /// What a clean shutdown records of this segment (see `CleanShutdownMarker`).
    var state: ActiveSegmentState {
        ActiveSegmentState(
            baseOffset: baseOffset, logSize: size, offsetIndexSize: offsetIndexSize, timeIndexSize: timeIndexSize,
            lsnIndexSize: lsnIndexSize, txnIndexSize: txnIndexSize, nextOffset: nextOffset,
            bytesSinceLastIndexEntry: Int64(bytesSinceLastIndexEntry), bytesSinceLastLSNLook: Int64(bytesSinceLastLSNLook),
            lookedForLSN: lookedForLSN, maxTimestampSoFar: maxTimestampSoFar, offsetOfMaxTimestampSoFar: offsetOfMaxTimestampSoFar,
            lastTimeIndexTimestamp: lastTimeIndexTimestamp, lastLSNIndexed: lastLSNIndexed, lastBatchPosition: lastBatchPosition)
    }

    /// Makes the log and its indexes durable as they are, without sealing (a clean shutdown).
    func syncAll() throws(SegmentLogError) {
        for file in [log, offsetIndex, timeIndex, lsnIndex, txnIndex] { try file.sync() }
    }

    /// Ends a rebuild: `.txnindex` entries past the rebuilt ones (left by a crash between an
    /// entry and its ABORT marker, or naming a torn tail's marker) are cut off.
    func finishRebuild() throws(SegmentLogError) {
        if try txnIndex.size() > txnIndexSize { try txnIndex.truncate(to: txnIndexSize) }
    }

    func append(_ bytes: [UInt8], header: BatchHeader, firstLSN: () throws(SegmentLogError) -> UInt64?) throws(SegmentLogError) {
        let position = size
        try log.write(bytes, at: position)
        size += Int64(bytes.count)
        try index(header, at: position, firstLSN: firstLSN)
    }

    /// Shrinks the log to `position` (recovery of a torn tail).
    func truncate(to position: Int64) throws(SegmentLogError) {
        try log.truncate(to: position)
        size = position
    }

    /// Updates the indexes for a batch written at `position` (by `append` or found by a scan).
    func index(_ header: BatchHeader, at position: Int64, firstLSN: () throws(SegmentLogError) -> UInt64?) throws(SegmentLogError) {
        if header.maxTimestamp > maxTimestampSoFar {
            maxTimestampSoFar = header.maxTimestamp
            offsetOfMaxTimestampSoFar = header.lastOffset
        }
        // Positions past int32 cannot be indexed (our segments never get there; a foreign file
        // might): such batches are found by scanning instead.
        var atIndexPoint = false
        if bytesSinceLastIndexEntry > indexInterval, let filePosition = Int32(exactly: position),
            header.lastOffset - files.baseOffset <= Int64(Int32.max) {
            let entry = OffsetIndexEntry(relativeOffset: relative(header.lastOffset), position: filePosition)
            try offsetIndex.write(entry.encoded(), at: offsetIndexSize)
            offsetIndexSize += Int64(OffsetIndexEntry.size)
            try maybeAppendTimeIndex()
            bytesSinceLastIndexEntry = 0
            atIndexPoint = true
        }
        // The LSN index looks at the segment's first data batch, then at offset index points at
        // least `lsnIndexInterval` apart: each look decodes the batch's first record.
        if !header.isControl && (!lookedForLSN || (atIndexPoint && bytesSinceLastLSNLook > lsnIndexInterval)) {
            lookedForLSN = true
            bytesSinceLastLSNLook = 0
            try maybeAppendLSN(firstLSN(), header: header)
        }
        bytesSinceLastIndexEntry += header.sizeInBytes
        bytesSinceLastLSNLook += header.sizeInBytes
        nextOffset = header.nextOffset
        lastBatchPosition = position
    }

    func addAbortedTransaction(_ entry: AbortedTransaction) throws(SegmentLogError) {
        try txnIndex.write(entry.encoded(), at: txnIndexSize)
        txnIndexSize += Int64(AbortedTransaction.size)
    }

    func sync() throws(SegmentLogError) { try log.sync() }

    /// Makes the segment read-only history: the last time index entry, then everything durable.
    func seal() throws(SegmentLogError) {
        try maybeAppendTimeIndex()
        for file in [log, offsetIndex, timeIndex, lsnIndex, txnIndex] { try file.sync() }
    }

    private func relative(_ offset: Int64) -> Int32 { Int32(truncatingIfNeeded: offset - files.baseOffset) }

    private func maybeAppendTimeIndex() throws(SegmentLogError) {
        guard maxTimestampSoFar > lastTimeIndexTimestamp, offsetOfMaxTimestampSoFar >= 0 else { return }
        let entry = TimeIndexEntry(timestamp: maxTimestampSoFar, relativeOffset: relative(offsetOfMaxTimestampSoFar))
        try timeIndex.write(entry.encoded(), at: timeIndexSize)
        timeIndexSize += Int64(TimeIndexEntry.size)
        lastTimeIndexTimestamp = maxTimestampSoFar
    }

    private func maybeAppendLSN(_ lsn: UInt64?, header: BatchHeader) throws(SegmentLogError) {
        guard let lsn, lastLSNIndexed.map({ lsn > $0 }) ?? true else { return }
        let entry = LSNIndexEntry(lsn: lsn, relativeOffset: relative(header.baseOffset))
        try lsnIndex.write(entry.encoded(), at: lsnIndexSize)
        lsnIndexSize += Int64(LSNIndexEntry.size)
        lastLSNIndexed = lsn
    }
}
