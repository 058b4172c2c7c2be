import BinaryIO
import FaultInjection
import Foundation

/// How sealed segments are recompressed in the background (`LogConfig.recompression`).
public struct RecompressionSettings: Sendable, Hashable {
    /// zstd level of the recompressed batches (each batch stays one independent frame).
    public var level: Int32
    /// Share of one core the background thread may use: after each batch it pauses so that
    /// its working time stays at this share of the time that passes.
    public var cpuShare: Double

    public init(level: Int32 = 19, cpuShare: Double = 0.5) {
        self.level = level
        self.cpuShare = min(max(cpuShare, 0.01), 1)
    }
}

/// The files a recompression writes beside a segment. The new `.log` and `.index` are written
/// under temporary names and renamed over the old ones; the marker records that the segment was
/// done, so a restart does not do it again.
enum RecompressionFiles {
    static let newLogSuffix = "log.recompressing"
    static let newIndexSuffix = "index.recompressing"
    static let markerSuffix = "recompressed"
    static let temporarySuffixes = [newLogSuffix, newIndexSuffix]
}

/// `<base>.recompressed`: the level a sealed segment was recompressed at and its sizes before and
/// after (equal when the new level did not make it smaller and the old file was kept). Text, one
/// line, so an operator can read it.
struct RecompressionMarker: Hashable, Sendable {
    var level: Int32
    var originalBytes: Int64
    var storedBytes: Int64

    func encoded() -> [UInt8] { Array("level=\(level) original=\(originalBytes) stored=\(storedBytes)\n".utf8) }

    /// Nil when the bytes are not a marker (damaged or from elsewhere): the segment is then
    /// recompressed again, which is harmless.
    static func decode(_ bytes: [UInt8]) -> RecompressionMarker? {
        var fields: [String: Int64] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Int64(parts[1]) else { return nil }
            fields[String(parts[0])] = value
        }
        guard let level = fields["level"].flatMap({ Int32(exactly: $0) }), let original = fields["original"], let stored = fields["stored"] else {
            return nil
        }
        return RecompressionMarker(level: level, originalBytes: original, storedBytes: stored)
    }

    static func read(_ files: SegmentFiles) -> RecompressionMarker? {
        guard let bytes = try? FileIO.readFile(files.path(RecompressionFiles.markerSuffix), limit: 4096) else { return nil }
        return decode(bytes)
    }
}

/// What opening a partition does with the files a recompression left behind for one segment.
///
/// The swap renames the new `.log` over the old one (the commit point), then the new `.index`
/// over the old one. So a new log still under its temporary name means the swap never happened
/// (the old segment stands and the new files go), and a new index alone means the log was
/// swapped and its index must follow (until it does, the old index describes another file; readers
/// check every position they take from an index, see `PartitionReader.seek`).
enum SwapRecovery: Hashable, Sendable {
    case nothing
    case discardNewFiles
    case finishIndexSwap

    static func decide(newLogExists: Bool, newIndexExists: Bool) -> SwapRecovery {
        if newLogExists { return .discardNewFiles }
        return newIndexExists ? .finishIndexSwap : .nothing
    }

    /// Finishes or discards every half-done swap in the partition directory `path` (whose
    /// entries are `names`); returns what it did per base offset.
    @discardableResult
    static func recover(in path: String, names: [String]) throws(SegmentLogError) -> [Int64: SwapRecovery] {
        var newLogs: Set<Int64> = [], newIndexes: Set<Int64> = []
        for name in names {
            if let base = SegmentFileName.baseOffset(of: name, suffix: RecompressionFiles.newLogSuffix) { newLogs.insert(base) }
            if let base = SegmentFileName.baseOffset(of: name, suffix: RecompressionFiles.newIndexSuffix) { newIndexes.insert(base) }
        }
        var done: [Int64: SwapRecovery] = [:]
        for base in newLogs.union(newIndexes).sorted() {
            let files = SegmentFiles(directory: path, baseOffset: base)
            let action = decide(newLogExists: newLogs.contains(base), newIndexExists: newIndexes.contains(base))
            switch action {
            case .nothing:
                continue
            case .discardNewFiles:
                for suffix in RecompressionFiles.temporarySuffixes { try FileIO.remove(files.path(suffix)) }
            case .finishIndexSwap:
                try FileIO.rename(files.path(RecompressionFiles.newIndexSuffix), to: files.path(OffsetIndex.suffix))
            }
            done[base] = action
        }
        if !done.isEmpty { try FileIO.syncDirectory(path) }
        return done
    }
}

/// Recompresses one sealed segment at a higher zstd level and swaps the result in.
///
/// Offsets, batch boundaries, header fields and control batches stay as they are (see
/// `BatchCodec.recompressed`), so the `.timeindex`, `.lsnindex` and `.txnindex` (by offset) and
/// the producer snapshot stay valid; only the `.index` (by file position) is written anew.
/// Swap: new `.log` and `.index` written and fsynced under temporary names, then — with the
/// writer's lease held, so retention cannot delete the segment in between — the new `.log`
/// renamed over the old (the commit point), the directory fsynced, the new `.index` renamed over
/// the old, the directory fsynced; `SwapRecovery` finishes or discards a swap a crash cut short.
/// A reader holding the old `.log` open keeps reading the old file (its inode lives on).
struct SegmentRecompression {
    let files: SegmentFiles
    let level: Int32
    let indexInterval: Int
    let limits: DecodeLimits

    enum Outcome: Hashable, Sendable {
        case swapped(originalBytes: Int64, storedBytes: Int64)
        /// The new level did not make the segment smaller: the old file stays.
        case notSmaller(originalBytes: Int64)
        /// Already recompressed at this level or higher (its marker says so).
        case alreadyDone
        /// Retention deleted the segment (or it was replaced) while it was being recompressed.
        case gone
        /// `afterBatch` asked to stop; nothing changed.
        case stopped
    }

    /// `afterBatch` is told how long each batch took to recompress and returns false to stop;
    /// `exclusively` runs the renames with the writer's lease held.
    func run(
        afterBatch: (Duration) -> Bool,
        exclusively: (() throws(SegmentLogError) -> Void) throws(SegmentLogError) -> Void
    ) throws(SegmentLogError) -> Outcome {
        if let marker = RecompressionMarker.read(files), marker.level >= level { return .alreadyDone }
        guard FileIO.exists(files.log) else { return .gone }
        let source = try FileHandleBox.readOnly(files.log)
        guard let identity = source.identity else { return .gone }
        let originalBytes = try source.size()
        let newLogPath = files.path(RecompressionFiles.newLogSuffix)
        let newIndexPath = files.path(RecompressionFiles.newIndexSuffix)
        var keepNewFiles = false
        defer {
            if !keepNewFiles {
                try? FileIO.remove(newLogPath)
                try? FileIO.remove(newIndexPath)
            }
        }
        let newLog = try FileHandleBox(path: newLogPath, flags: O_RDWR | O_CREAT | O_TRUNC)
        var scanner = BatchScanner(file: source, from: 0, fileSize: originalBytes, limits: limits)
        var written: Int64 = 0
        var index: [UInt8] = []
        var bytesSinceIndexEntry = 0
        var expectedOffset = files.baseOffset
        scan: while true {
            switch try scanner.next() {
            case .end:
                break scan
            case .incomplete(let position), .damaged(let position, _, _):
                throw SegmentLogError(.corruptSegment, "sealed segment is damaged or cut short; left as it is", path: files.log, position: position)
            case .batch(let found):
                let header = found.header
                guard header.baseOffset >= expectedOffset else {
                    throw SegmentLogError(.corruptSegment, "batch offset \(header.baseOffset) is below \(expectedOffset)", path: files.log, position: found.position)
                }
                expectedOffset = header.nextOffset
                let started = ContinuousClock.now
                let bytes = try BatchCodec.recompressed(found.batch, level: level, limits: limits)
                // The same spacing rule as the active segment's index (`Segment.index`).
                if bytesSinceIndexEntry > indexInterval, let position = Int32(exactly: written),
                    let relative = Int32(exactly: header.lastOffset - files.baseOffset) {
                    index += OffsetIndexEntry(relativeOffset: relative, position: position).encoded()
                    bytesSinceIndexEntry = 0
                }
                try newLog.write(bytes, at: written)
                written += Int64(bytes.count)
                bytesSinceIndexEntry += bytes.count
                if !afterBatch(ContinuousClock.now - started) { return .stopped }
            }
        }
        guard written < originalBytes else {
            try FileIO.writeAtomically(
                files.path(RecompressionFiles.markerSuffix),
                RecompressionMarker(level: level, originalBytes: originalBytes, storedBytes: originalBytes).encoded())
            return .notSmaller(originalBytes: originalBytes)
        }
        try newLog.sync()
        let newIndex = try FileHandleBox(path: newIndexPath, flags: O_RDWR | O_CREAT | O_TRUNC)
        try newIndex.write(index, at: 0)
        try newIndex.sync()
        // Both new files are durable under their temporary names before either is renamed.
        try FileIO.syncDirectory(files.directory)
        var swapped = false
        try exclusively { () throws(SegmentLogError) in
            // Retention may have deleted the segment since it was read: never bring it back.
            guard FileIO.identity(atPath: files.log) == identity else { return }
            CrashPoint.hit("log.recompress.before-swap")
            try FileIO.rename(newLogPath, to: files.log)
            CrashPoint.hit("log.recompress.after-log-swap")
            try FileIO.syncDirectory(files.directory)
            try FileIO.rename(newIndexPath, to: files.path(OffsetIndex.suffix))
            try FileIO.syncDirectory(files.directory)
            swapped = true
        }
        guard swapped else { return .gone }
        keepNewFiles = true
        CrashPoint.hit("log.recompress.after-index-swap")
        try FileIO.writeAtomically(
            files.path(RecompressionFiles.markerSuffix),
            RecompressionMarker(level: level, originalBytes: originalBytes, storedBytes: written).encoded())
        return .swapped(originalBytes: originalBytes, storedBytes: written)
    }
}
