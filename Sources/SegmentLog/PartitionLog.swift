import BinaryIO
import Foundation
import Logging
import Synchronization

/// The outcome of appending records to a partition.
public struct AppendResult: Hashable, Sendable {
    public var firstOffset: Int64
    public var lastOffset: Int64
    /// The batch repeated one of the producer's last five and was not written again.
    public var wasDuplicate: Bool
}

/// The segments of one partition directory, written by one writer. Only the active (last)
/// segment is open; older segments are sealed (synced, final time index entry) when rolled.
final class PartitionLog {
    let path: String
    let config: LogConfig
    private let logger: Logger
    private(set) var sealedSegments: [Int64]
    private(set) var active: Segment
    private(set) var producers: [Int64: ProducerEntry]
    /// Bytes written since the last `sync`, so a commit fsyncs only partitions it dirtied.
    private(set) var isDirty = false
    /// Told the sealed segments after each retention pass, when the writer recompresses them.
    var recompressor: SealedSegmentRecompressor?

    var nextOffset: Int64 { active.nextOffset }
    var logStartOffset: Int64 { sealedSegments.first ?? active.baseOffset }

    /// Why `open` read the active segment through, or nil when it did not have to: the
    /// partition was new, or the clean shutdown marker described its files as they are.
    private(set) var recoveryReason: String?

    private init(
        path: String, config: LogConfig, logger: Logger, sealed: [Int64], active: Segment, producers: [Int64: ProducerEntry],
        recoveryReason: String? = nil
    ) {
        self.path = path
        self.config = config
        self.logger = logger
        self.sealedSegments = sealed
        self.active = active
        self.producers = producers
        self.recoveryReason = recoveryReason
    }

    /// Opens a partition directory, creating it with an empty first segment when absent, and
    /// recovers it: torn tail truncated, indexes rebuilt, producer state replayed. With the
    /// partition's entry of a clean shutdown marker (`cleanShutdown`) whose sizes match the
    /// files, the active segment's state is taken from it instead of reading it through;
    /// `notTrusted` says why there is no such entry (it becomes the recovery reason).
    static func open(
        path: String, config: LogConfig, logger: Logger, cleanShutdown: CleanShutdownMarker.Partition? = nil,
        notTrusted: String = "no clean shutdown marker"
    ) throws(SegmentLogError) -> PartitionLog {
        if !FileIO.exists(path) {
            try FileIO.createDirectory(path)
            try FileIO.syncDirectory((path as NSString).deletingLastPathComponent)
        }
        // A recompression's swap cut short is finished or undone before anything reads the files.
        if try SwapRecovery.recover(in: path, names: try FileIO.listDirectory(path)).isEmpty == false {
            logger.info("finished or undid a recompression cut short", metadata: ["segmentlog.partition": "\(path)"])
        }
        let names = try FileIO.listDirectory(path)
        let bases = names.compactMap { SegmentFileName.baseOffset(of: $0, suffix: "log") }.sorted()
        try removeOrphans(in: path, names: names, bases: Set(bases))
        guard let activeBase = bases.last else {
            let files = SegmentFiles(directory: path, baseOffset: 0)
            try FileIO.writeAtomically(files.path(ProducerSnapshot.suffix), ProducerSnapshot.encode([:], createdAt: config.clock()))
            let segment = try Segment(files: files, indexInterval: config.indexIntervalBytes, lsnIndexInterval: config.lsnIndexIntervalBytes)
            try FileIO.syncDirectory(path)
            return PartitionLog(path: path, config: config, logger: logger, sealed: [], active: segment, producers: [:])
        }
        let sealed = Array(bases.dropLast())
        for (base, next) in zip(sealed, bases.dropFirst()) {
            try checkSealedTail(SegmentFiles(directory: path, baseOffset: base), nextBase: next, limits: config.limits)
        }
        for base in sealed where !sealedIndexesAreSound(SegmentFiles(directory: path, baseOffset: base), limits: config.limits) {
            logger.info("rebuilding indexes", metadata: ["segmentlog.segment": "\(path)/\(SegmentFileName.name(base, "log"))"])
            var producers = try snapshot(SegmentFiles(directory: path, baseOffset: base), isFirst: base == bases.first)
            let segment = try Segment(
                files: SegmentFiles(directory: path, baseOffset: base), indexInterval: config.indexIntervalBytes,
                lsnIndexInterval: config.lsnIndexIntervalBytes, rebuilding: true)
            try replay(segment, producers: &producers, limits: config.limits, allowTornTail: false, logger: logger)
            try segment.finishRebuild()
            try segment.seal()
        }
        let activeFiles = SegmentFiles(directory: path, baseOffset: activeBase)
        var reason = notTrusted
        if let cleanShutdown {
            if let mismatch = cleanShutdown.segment.mismatch(activeBaseOffset: activeBase, sizeOf: { FileIO.size(atPath: activeFiles.path($0)) }) {
                reason = "the clean shutdown marker does not match: " + mismatch
            } else {
                let segment = try Segment(
                    files: activeFiles, indexInterval: config.indexIntervalBytes, lsnIndexInterval: config.lsnIndexIntervalBytes,
                    resuming: cleanShutdown.segment)
                if segment.size > 0 { segment.firstAppendTime = config.clock() }
                return PartitionLog(path: path, config: config, logger: logger, sealed: sealed, active: segment, producers: cleanShutdown.producers)
            }
        }
        logger.info("reading the active segment through", metadata: [
            "segmentlog.segment": "\(activeFiles.log)", "segmentlog.reason": "\(reason)",
        ])
        var producers = try snapshot(activeFiles, isFirst: sealed.isEmpty)
        let segment = try Segment(
            files: activeFiles, indexInterval: config.indexIntervalBytes, lsnIndexInterval: config.lsnIndexIntervalBytes, rebuilding: true)
        try replay(segment, producers: &producers, limits: config.limits, allowTornTail: true, logger: logger)
        try segment.finishRebuild()
        if segment.size > 0 { segment.firstAppendTime = config.clock() }
        return PartitionLog(
            path: path, config: config, logger: logger, sealed: sealed, active: segment, producers: producers, recoveryReason: reason)
    }

    /// Makes everything of the partition durable (data, the active segment's indexes, the
    /// directory's entries) and returns what a clean shutdown marker records of it.
    func syncForCleanShutdown() throws(SegmentLogError) -> CleanShutdownMarker.Partition {
        try active.syncAll()
        try FileIO.syncDirectory(path)
        isDirty = false
        return CleanShutdownMarker.Partition(segment: active.state, producers: producers)
    }

    /// The producer state at the start of a segment. The first segment starts empty; any other
    /// gets its snapshot before it is created, so a missing one is damage, not a crash window.
    private static func snapshot(_ files: SegmentFiles, isFirst: Bool) throws(SegmentLogError) -> [Int64: ProducerEntry] {
        let path = files.path(ProducerSnapshot.suffix)
        guard let bytes = try FileIO.readFile(path) else {
            if isFirst { return [:] }
            throw SegmentLogError(.corruptStateFile, "producer snapshot missing", path: path)
        }
        do { return try ProducerSnapshot.decode(bytes).producers } catch { throw error.located(path: path, position: nil) }
    }

    /// Feeds every batch of the segment's log through its indexes and the producer state.
    /// Stops at the first bad batch: a torn tail is cut off when allowed; damage followed by a
    /// valid batch is corruption and an error naming the file and position.
    @discardableResult
    static func replay(
        _ segment: Segment, producers: inout [Int64: ProducerEntry], limits: DecodeLimits, allowTornTail: Bool, logger: Logger
    ) throws(SegmentLogError) -> Int64? {
        var scanner = BatchScanner(file: segment.log, from: 0, fileSize: segment.size, limits: limits)
        var expectedOffset = segment.baseOffset
        while true {
            switch try scanner.next() {
            case .end:
                return nil
            case .batch(let found):
                // The CRC does not cover the base offset, so order is checked separately.
                guard found.header.baseOffset >= expectedOffset else {
                    throw SegmentLogError(
                        .corruptSegment, "batch offset \(found.header.baseOffset) is below \(expectedOffset)",
                        path: segment.files.log, position: found.position)
                }
                expectedOffset = found.header.nextOffset
                try segment.index(found.header, at: found.position) { () throws(SegmentLogError) in
                    try found.batch.firstRecord(limits: limits)?.record.sourceLSN
                }
                if let aborted = try apply(found.batch, to: &producers) { try segment.addAbortedTransaction(aborted) }
            case .incomplete(let position):
                guard allowTornTail else {
                    throw SegmentLogError(.corruptSegment, "sealed segment ends inside a batch", path: segment.files.log, position: position)
                }
                return try cutTornTail(segment, at: position, logger: logger)
            case .damaged(let position, let length, let error):
                let followed = try scanner.validBatchFollows(damageAt: position, length: length)
                if !allowTornTail || followed {
                    throw SegmentLogError(.corruptSegment, "damaged batch followed by more data: \(error.message)", path: segment.files.log, position: position)
                }
                return try cutTornTail(segment, at: position, logger: logger)
            }
        }
    }

    private static func cutTornTail(_ segment: Segment, at position: Int64, logger: Logger) throws(SegmentLogError) -> Int64 {
        logger.info("truncating torn tail", metadata: [
            "segmentlog.segment": "\(segment.files.log)", "segmentlog.position": "\(position)",
            "segmentlog.bytes": "\(segment.size - position)",
        ])
        let cut = segment.size - position
        try segment.truncate(to: position)
        try segment.sync()
        return cut
    }

    /// Producer bookkeeping for one batch; returns the aborted transaction an ABORT marker ends.
    static func apply(_ batch: RecordBatch, to producers: inout [Int64: ProducerEntry]) throws(SegmentLogError) -> AbortedTransaction? {
        let header = batch.header
        guard header.hasProducerId else { return nil }
        var entry = producers[header.producerId] ?? ProducerEntry(epoch: header.producerEpoch)
        if header.producerEpoch > entry.epoch {
            entry.epoch = header.producerEpoch
            entry.recentBatches = []
        }
        var aborted: AbortedTransaction?
        if header.isControl {
            if let marker = try batch.controlMarker(), let first = entry.openTransactionFirstOffset {
                entry.openTransactionFirstOffset = nil
                if marker.type == .abort {
                    aborted = AbortedTransaction(
                        producerId: header.producerId, firstOffset: first, lastOffset: header.baseOffset,
                        lastStableOffset: lastStableOffset(producers, excluding: header.producerId, otherwise: header.nextOffset))
                }
            }
        } else {
            if header.isTransactional && entry.openTransactionFirstOffset == nil {
                entry.openTransactionFirstOffset = header.baseOffset
            }
            if header.baseSequence >= 0 {
                entry.remember(BatchMetadata(
                    firstSequence: header.baseSequence, lastSequence: header.lastSequence,
                    firstOffset: header.baseOffset, lastOffset: header.lastOffset))
            }
        }
        producers[header.producerId] = entry
        return aborted
    }

    private static func lastStableOffset(_ producers: [Int64: ProducerEntry], excluding id: Int64, otherwise: Int64) -> Int64 {
        producers.filter { $0.key != id }.compactMap(\.value.openTransactionFirstOffset).min() ?? otherwise
    }

    /// Deletes index and snapshot files whose `.log` is gone (a crash during retention), and
    /// temporary files of interrupted atomic writes.
    private static func removeOrphans(in path: String, names: [String], bases: Set<Int64>) throws(SegmentLogError) {
        for name in names {
            let suffixes = SegmentFiles.indexSuffixes + [ProducerSnapshot.suffix, RecompressionFiles.markerSuffix]
            let orphan = suffixes.contains { suffix in
                SegmentFileName.baseOffset(of: name, suffix: suffix).map { !bases.contains($0) } ?? false
            }
            if orphan || name.hasSuffix(".tmp") { try FileIO.remove(path + "/" + name) }
        }
    }

    /// A sealed segment was synced whole when it was rolled: its batches must run to the end of
    /// the file and stop right before the next segment's base offset. Checked from the last
    /// offset index entry, so it costs a few KiB of reading, not the segment.
    static func checkSealedTail(_ files: SegmentFiles, nextBase: Int64, limits: DecodeLimits) throws(SegmentLogError) {
        let log = try FileHandleBox.readOnly(files.log)
        let size = try log.size()
        var start: Int64 = 0
        var nextOffset = files.baseOffset
        if let (_, tail) = lastEntry(files.path(OffsetIndex.suffix), size: OffsetIndexEntry.size),
            let last = try? OffsetIndex.decode(tail, logSize: size).last {
            let head = try log.read(count: BatchHeader.size, at: Int64(last.position))
            if let header = try? BatchHeader.parse(head), header.lastOffset == files.baseOffset + Int64(last.relativeOffset) {
                start = Int64(last.position)
                nextOffset = header.baseOffset
            }
        }
        var scanner = BatchScanner(file: log, from: start, fileSize: size, limits: limits)
        while true {
            switch try scanner.next() {
            case .batch(let found):
                guard found.header.baseOffset >= nextOffset else {
                    throw SegmentLogError(.corruptSegment, "batch offset \(found.header.baseOffset) is below \(nextOffset)", path: files.log, position: found.position)
                }
                nextOffset = found.header.nextOffset
            case .end:
                guard nextOffset == nextBase else {
                    throw SegmentLogError(
                        .corruptSegment, "sealed segment ends at offset \(nextOffset) but the next segment starts at \(nextBase)",
                        path: files.log, position: size)
                }
                return
            case .incomplete(let position), .damaged(let position, _, _):
                throw SegmentLogError(.corruptSegment, "sealed segment is damaged or cut short", path: files.log, position: position)
            }
        }
    }

    /// Cheap checks of a sealed segment's indexes at open: present, whole entries, last
    /// entries plausible. Reading every entry of every segment would make opening a large
    /// log slow; `LogVerifier` does the full check.
    static func sealedIndexesAreSound(_ files: SegmentFiles, limits: DecodeLimits) -> Bool {
        guard let log = try? FileHandleBox.readOnly(files.log), let logSize = try? log.size() else { return false }
        guard let (offsetSize, offsetTail) = lastEntry(files.path(OffsetIndex.suffix), size: OffsetIndexEntry.size),
            let (timeSize, timeTail) = lastEntry(files.path(TimeIndex.suffix), size: TimeIndexEntry.size),
            let (lsnSize, _) = lastEntry(files.path(LSNIndex.suffix), size: LSNIndexEntry.size),
            let (abortedSize, abortedTail) = lastEntry(files.path(TxnIndex.suffix), size: AbortedTransaction.size),
            offsetSize % Int64(OffsetIndexEntry.size) == 0, timeSize % Int64(TimeIndexEntry.size) == 0,
            lsnSize % Int64(LSNIndexEntry.size) == 0, abortedSize % Int64(AbortedTransaction.size) == 0,
            (try? OffsetIndex.decode(offsetTail, logSize: max(logSize, 1))) != nil,
            (try? TimeIndex.decode(timeTail)) != nil, (try? TxnIndex.decode(abortedTail)) != nil
        else { return false }
        // A sealed segment with data always has a final time index entry.
        return logSize == 0 || timeSize > 0
    }

    /// A file's size and its last `size` bytes (fewer if it is shorter); nil when missing.
    static func lastEntry(_ path: String, size: Int) -> (fileSize: Int64, bytes: [UInt8])? {
        guard let file = try? FileHandleBox.readOnly(path), let fileSize = try? file.size() else { return nil }
        let count = Int(min(fileSize, Int64(size)))
        guard let bytes = try? file.read(count: count, at: fileSize - Int64(count)) else { return nil }
        return (fileSize, bytes)
    }

    // MARK: Appending

    /// Appends one batch of `records` for `producer`. `baseSequence` nil takes the next one;
    /// a batch repeating one of the last five (same sequences) returns its original offsets.
    func append(
        _ records: [Record], producer: ProducerIdentity, baseSequence: Int32?, transactional: Bool
    ) throws(SegmentLogError) -> AppendResult {
        var encoded: [EncodedRecord] = []
        encoded.reserveCapacity(records.count)
        for record in records { encoded.append(try EncodedRecord(record)) }
        let prepared = try BatchCodec.prepare(encoded, compression: config.compression, zstdLevel: config.zstdLevel)
        return try append(prepared, producer: producer, baseSequence: baseSequence, transactional: transactional)
    }

    /// Appends a batch prepared with this log's compression settings.
    func append(
        _ prepared: PreparedBatch, producer: ProducerIdentity, baseSequence: Int32?, transactional: Bool
    ) throws(SegmentLogError) -> AppendResult {
        var entry = producers[producer.producerId] ?? ProducerEntry(epoch: producer.epoch)
        if producer.producerId >= 0 {
            if producer.epoch < entry.epoch {
                throw SegmentLogError(.producerFenced, "producer \(producer.producerId) epoch \(producer.epoch) is older than \(entry.epoch)")
            }
            if producer.epoch > entry.epoch {
                entry.epoch = producer.epoch
                entry.recentBatches = []
            }
        }
        let sequence = producer.producerId >= 0 ? (baseSequence ?? entry.nextSequence) : -1
        if producer.producerId >= 0 {
            let last = Int32(truncatingIfNeeded: (Int64(sequence) + Int64(prepared.count) - 1) % (Int64(Int32.max) + 1))
            if let duplicate = entry.duplicate(firstSequence: sequence, lastSequence: last) {
                return AppendResult(firstOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset, wasDuplicate: true)
            }
            guard sequence == entry.nextSequence else {
                throw SegmentLogError(.outOfOrderSequence, "sequence \(sequence) for \(path), expected \(entry.nextSequence)")
            }
        }
        try maybeRoll(incoming: BatchHeader.size + prepared.section.count)
        if active.firstAppendTime == nil { active.firstAppendTime = config.clock() }
        let bytes = BatchCodec.assemble(prepared, baseOffset: nextOffset, producer: producer, baseSequence: sequence, transactional: transactional)
        let batch = RecordBatch(header: try BatchHeader.parse(bytes), bytes: bytes)
        try active.append(bytes, header: batch.header) { prepared.firstSourceLSN }
        isDirty = true
        _ = try Self.apply(batch, to: &producers)
        return AppendResult(firstOffset: batch.header.baseOffset, lastOffset: batch.header.lastOffset, wasDuplicate: false)
    }

    /// Writes a COMMIT or ABORT marker ending `producer`'s open transaction here; an ABORT
    /// also gets its `.txnindex` entry. Returns the marker's offset.
    ///
    /// The marker's timestamp is the largest record timestamp so far, not the wall clock:
    /// records carry source times, which trail the clock while a backlog is caught up, and a
    /// clock-stamped marker would then own every time index entry and defeat seeks by time.
    @discardableResult
    func writeMarker(_ type: ControlType, producer: ProducerIdentity) throws(SegmentLogError) -> Int64 {
        let timestamp = active.maxTimestampSoFar >= 0 ? active.maxTimestampSoFar : config.clock()
        try maybeRoll(incoming: 78)
        if active.firstAppendTime == nil { active.firstAppendTime = config.clock() }
        let bytes = BatchCodec.encodeControl(type, baseOffset: nextOffset, producer: producer, timestamp: timestamp)
        let batch = RecordBatch(header: try BatchHeader.parse(bytes), bytes: bytes)
        try append(batch, indexedFirst: { nil })
        return batch.header.baseOffset
    }

    /// Appends already-encoded batches from another producer (tests, imports): offsets are
    /// rewritten to follow this log, which the CRC allows since it skips the offset field.
    func appendRaw(_ encoded: [UInt8]) throws(SegmentLogError) -> AppendResult {
        var bytes = encoded
        bytes.setInteger(nextOffset, at: 0)
        let batch = try BatchCodec.decodeBatch(bytes, limits: config.limits)
        try maybeRoll(incoming: bytes.count)
        if active.firstAppendTime == nil { active.firstAppendTime = config.clock() }
        try append(batch, indexedFirst: { () throws(SegmentLogError) in try batch.firstRecord(limits: config.limits)?.record.sourceLSN })
        return AppendResult(firstOffset: batch.header.baseOffset, lastOffset: batch.header.lastOffset, wasDuplicate: false)
    }

    /// Appends a batch that may be a marker. An ABORT's `.txnindex` entry is written before
    /// the marker: a read_committed reader that sees the marker (so the transaction is no
    /// longer open) reads the index after it, and must find the transaction there, or it
    /// would deliver the aborted records. A crash in between leaves an entry without its
    /// marker, which no reader applies (the transaction is still open) and recovery cuts off.
    private func append(_ batch: RecordBatch, indexedFirst firstLSN: () throws(SegmentLogError) -> UInt64?) throws(SegmentLogError) {
        var after = producers
        if let aborted = try Self.apply(batch, to: &after) { try active.addAbortedTransaction(aborted) }
        try active.append(batch.bytes, header: batch.header, firstLSN: firstLSN)
        isDirty = true
        producers = after
    }

    func sync() throws(SegmentLogError) {
        guard isDirty else { return }
        try active.sync()
        isDirty = false
    }

    /// Syncs several partitions at once: fsyncs of different files proceed in parallel on the
    /// device, so a commit over many partitions waits about one fsync instead of one each.
    /// Each file gets a thread of its own (the caller's takes the first): an fsync waits on the
    /// device, not on a CPU, and a pool sized to the CPUs (`concurrentPerform`) ran the third
    /// of three partitions' fsyncs on two CPUs only after one of the first two had returned —
    /// a second wait on the device in every commit. The threads are those of private
    /// serial queues, reused from commit to commit rather than made and torn down each time
    /// (beyond 16 dirty partitions, some fsyncs queue behind others).
    /// Serial queues, because those overcommit (each gets a thread of its own when the others
    /// block); a concurrent queue's workers are the global pool's, as many as the CPUs.
    private static let fsyncQueues = (0..<15).map { DispatchQueue(label: "outflow.segmentlog.fsync.\($0)") }

    static func syncAll(_ logs: [PartitionLog]) throws(SegmentLogError) {
        let dirty = logs.filter(\.isDirty)
        guard dirty.count > 1 else {
            for log in dirty { try log.sync() }
            return
        }
        let targets = dirty.map { (fd: $0.active.log.fd, path: $0.active.log.path) }
        let failure = Mutex<SegmentLogError?>(nil)
        let sync: @Sendable (Int) -> Void = { index in
            do throws(SegmentLogError) { try FileIO.sync(targets[index].fd, path: targets[index].path) } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        let others = DispatchGroup()
        for index in targets.indices.dropFirst() {
            fsyncQueues[(index - 1) % fsyncQueues.count].async(group: others) { sync(index) }
        }
        sync(0)
        others.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        for log in dirty { log.isDirty = false }
    }

    /// Rolls to a new segment when the active one is full by size or age, or its relative
    /// offsets would overflow int32.
    private func maybeRoll(incoming: Int) throws(SegmentLogError) {
        guard active.size > 0 else { return }
        let now = config.clock()
        // Index positions are int32, so no segment may pass 2 GiB whatever the setting.
        let full = active.size + Int64(incoming) > min(config.segmentBytes, Int64(Int32.max))
        let old = now - (active.firstAppendTime ?? now) > config.segmentMilliseconds
        let offsetsExhausted = nextOffset - active.baseOffset > Int64(Int32.max) - 1_000_000
        guard full || old || offsetsExhausted else { return }
        try roll()
    }

    func roll() throws(SegmentLogError) {
        try active.seal()
        let files = SegmentFiles(directory: path, baseOffset: nextOffset)
        // The snapshot exists before the segment does, so recovery never lacks it.
        try FileIO.writeAtomically(files.path(ProducerSnapshot.suffix), ProducerSnapshot.encode(producers, createdAt: config.clock()))
        let next = try Segment(files: files, indexInterval: config.indexIntervalBytes, lsnIndexInterval: config.lsnIndexIntervalBytes)
        try FileIO.syncDirectory(path)
        sealedSegments.append(active.baseOffset)
        active = next
        isDirty = false
        rolledSinceRetention = true
    }

    /// A segment was sealed since retention last looked: size-based retention may now have
    /// something to delete.
    private(set) var rolledSinceRetention = false

    // MARK: Retention

    /// Deletes whole sealed segments older than the retention time or beyond the size bound,
    /// oldest first. The active segment is never deleted. Returns the deleted base offsets.
    @discardableResult
    func enforceRetention() throws(SegmentLogError) -> [Int64] {
        rolledSinceRetention = false
        var sizes: [Int64: Int64] = [:]
        for base in sealedSegments {
            let log = SegmentFiles(directory: path, baseOffset: base).log
            sizes[base] = try FileHandleBox(path: log, flags: O_RDONLY).size()
        }
        var total = sizes.values.reduce(active.size, +)
        let now = config.clock()
        var deleted: [Int64] = []
        while let base = sealedSegments.first {
            let files = SegmentFiles(directory: path, baseOffset: base)
            let next = sealedSegments.dropFirst().first ?? active.baseOffset
            let tooBig = config.retentionBytes.map { total > $0 } ?? false
            let tooOld = try config.retentionMilliseconds.map { retention throws(SegmentLogError) in
                // Kafka ages a segment by its newest record. Records here carry source times,
                // which may be old when a backlog is replayed, so the segment must also have
                // been sealed (next segment created) longer ago than the retention time.
                let sealedAt = try Self.snapshotCreatedAt(SegmentFiles(directory: path, baseOffset: next))
                return max(try Self.largestTimestamp(files), sealedAt) < now - retention
            } ?? false
            guard tooBig || tooOld else { break }
            // The log goes first: a crash in between leaves orphans that `open` removes.
            try FileIO.remove(files.log)
            for suffix in SegmentFiles.indexSuffixes + [ProducerSnapshot.suffix, RecompressionFiles.markerSuffix] {
                try FileIO.remove(files.path(suffix))
            }
            total -= sizes[base] ?? 0
            sealedSegments.removeFirst()
            deleted.append(base)
        }
        if !deleted.isEmpty {
            try FileIO.syncDirectory(path)
            logger.info("retention deleted segments", metadata: ["segmentlog.partition": "\(path)", "segmentlog.count": "\(deleted.count)"])
        }
        // What retention keeps is worth recompressing (a segment already done is skipped).
        recompressor?.offer(partition: path, sealed: sealedSegments)
        return deleted
    }

    /// When a segment was created, by the writer's clock; the far future when unknown, so
    /// that a segment of unknown age is never deleted for its age.
    static func snapshotCreatedAt(_ files: SegmentFiles) throws(SegmentLogError) -> Int64 {
        guard let bytes = try FileIO.readFile(files.path(ProducerSnapshot.suffix)),
            let decoded = try? ProducerSnapshot.decode(bytes)
        else { return .max }
        return decoded.createdAt
    }

    /// The newest timestamp of a sealed segment: its final time index entry.
    static func largestTimestamp(_ files: SegmentFiles) throws(SegmentLogError) -> Int64 {
        guard let bytes = try FileIO.readFile(files.path(TimeIndex.suffix)) else { return -1 }
        return try TimeIndex.decode(bytes).last?.timestamp ?? -1
    }
}
