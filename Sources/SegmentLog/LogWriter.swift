import BinaryIO
import FaultInjection
import Foundation
import Logging
import Synchronization

/// What `commit` made durable.
public struct CommitResult: Hashable, Sendable {
    public var transactionId: Int64
    /// Per partition, the offsets the transaction's data occupies (markers not included).
    public var ranges: [CommittedRange]
}

/// The single writer of a log directory. Usage, for each group of source transactions:
///
///     let writer = try LogWriter.open(directory: dir)
///     let resumeFrom = writer.lastCommit?.metadata      // where the pipeline resumes
///     try writer.beginTransaction()
///     try writer.append(records, to: TopicPartition(topic: "orders", partition: 0))
///     ...                                               // any number of appends, partitions
///     try writer.commit(metadata: sourcePositionBytes)  // durable when it returns
///     ...
///     writer.closeCleanly()                             // the next open skips recovery
///
/// Commit protocol (see DESIGN.md "Atomic commit"): (1) fsync every partition written since
/// the last commit (this transaction's data and the previous commit's markers); (2) append a `CommitRecord` to `__transactions` and fsync it: the commit
/// point; (3) append COMMIT markers (not synced: recovery re-derives them from the record).
/// An append writes through at once, so a transaction of any size uses constant memory.
///
/// Group commit: one log transaction may carry many source transactions. The caller keeps
/// appending until its own policy says to commit (`transactionBytes`, `transactionStartedAt`
/// tell it how much and since when), and commits once, sharing the fsyncs; the metadata then
/// holds the position of the last source transaction in the group.
///
/// Not thread-safe: own it from one task or actor. Opening a second writer on the same
/// directory in this process fences this one (its next call throws `.producerFenced`);
/// another process gets `.logLocked` until this one closes.
public final class LogWriter {
    public let directory: String
    public let producer: ProducerIdentity
    public let config: LogConfig
    /// The last durable commit record, read on open: the caller resumes from its metadata.
    public private(set) var lastCommit: CommitRecord?
    /// Bytes of record data appended in the open transaction (for group commit decisions).
    public private(set) var transactionBytes = 0
    /// When the open transaction began (clock milliseconds), nil when none is open.
    public private(set) var transactionStartedAt: Int64?

    private let logger: Logger
    private let lease: DirectoryLease
    private var partitions: [TopicPartition: PartitionLog] = [:]
    private let transactionLog: PartitionLog
    private var touched: [TopicPartition: (first: Int64, last: Int64)] = [:]
    private var isClosed = false
    /// Told how long each fsync phase took (a commit's data files, its commit record, a plain
    /// sync's partitions): the metrics' fsync latency histogram. Called on the writer's thread.
    public var fsyncObserver: ((Duration) -> Void)?
    /// Partition counts already in `topics.json`, read on the first declaration.
    private var declaredTopics: [String: Int32]?
    /// Set when a failure left the files in a state only recovery should repair.
    private var poisoned: SegmentLogError?
    /// The background recompression of sealed segments, when `config.recompression` asks for it.
    public private(set) var recompressor: SealedSegmentRecompressor?

    /// How `open` found the log: after a clean shutdown (no segment read through) or recovered.
    public private(set) var opening: Opening = .created

    /// How a writer's `open` found its directory.
    public enum Opening: Hashable, Sendable, CustomStringConvertible {
        /// The clean shutdown marker described every partition's files as they are: nothing
        /// was read through.
        case cleanShutdown
        /// Active segments were read through (indexes rebuilt, torn tails cut, transactions
        /// resolved); `reason` says why for the first partition that needed it.
        case recovered(reason: String)
        /// A new log: nothing to recover.
        case created

        public var description: String {
            switch self {
            case .created: "created"
            case .cleanShutdown: "opened after a clean shutdown (recovery skipped)"
            case .recovered(let reason): "recovered: \(reason)"
            }
        }
    }

    public var lastCommittedMetadata: [UInt8]? { lastCommit?.metadata }
    public var isInTransaction: Bool { transactionStartedAt != nil }

    private init(
        directory: String, producer: ProducerIdentity, config: LogConfig, logger: Logger, lease: DirectoryLease,
        partitions: [TopicPartition: PartitionLog], transactionLog: PartitionLog, lastCommit: CommitRecord?
    ) {
        self.directory = directory
        self.producer = producer
        self.config = config
        self.logger = logger
        self.lease = lease
        self.partitions = partitions
        self.transactionLog = transactionLog
        self.lastCommit = lastCommit
    }

    /// Opens (creating if needed) the log directory for writing: takes the lock, bumps the
    /// producer epoch, recovers every partition and resolves transactions left in doubt.
    public static func open(
        directory: String, config: LogConfig = LogConfig(), logger: Logger = Logger(label: "outflow.segmentlog")
    ) throws(SegmentLogError) -> LogWriter {
        try FileIO.createDirectory(directory, intermediate: true)
        let path = URL(fileURLWithPath: directory).resolvingSymlinksInPath().standardizedFileURL.path
        let lease = try DirectoryLease.acquire(path)
        // The marker goes before anything is written, so a crash from here on is never taken
        // for a clean shutdown.
        let (marker, noMarker) = try takeCleanShutdownMarker(path)
        let idPath = path + "/" + ProducerIdFile.name
        let stored = try FileIO.readFile(idPath).map { bytes throws(SegmentLogError) in try ProducerIdFile.decode(bytes, path: idPath) }
        let producer = ProducerIdFile.next(after: stored)
        try FileIO.writeAtomically(idPath, ProducerIdFile.encode(producer))
        lease.install(producer)
        do {
            return try lease.whileHeld(by: producer) { () throws(SegmentLogError) in
                func entry(_ name: String) -> CleanShutdownMarker.Partition? { marker?.partitions[name] }
                let notTrusted = marker == nil ? noMarker : "the clean shutdown marker does not name this partition"
                let transactionLog = try PartitionLog.open(
                    path: path + "/" + TransactionLog.directoryName, config: TransactionLog.config(from: config), logger: logger,
                    cleanShutdown: entry(TransactionLog.directoryName), notTrusted: notTrusted)
                let lastCommit = try TransactionLog.lastCommit(
                    in: transactionLog.path, limits: config.limits,
                    lastBatch: transactionLog.recoveryReason == nil ? (transactionLog.active.baseOffset, transactionLog.active.lastBatchPosition) : nil)
                var partitions: [TopicPartition: PartitionLog] = [:]
                for name in try FileIO.listDirectory(path).sorted() {
                    guard let tp = TopicPartition(directoryName: name) else { continue }
                    partitions[tp] = try PartitionLog.open(
                        path: path + "/" + name, config: config.forTopic(tp.topic), logger: logger, cleanShutdown: entry(name), notTrusted: notTrusted)
                }
                try resolveInDoubt(partitions, lastCommit: lastCommit, logger: logger)
                let writer = LogWriter(
                    directory: path, producer: producer, config: config, logger: logger, lease: lease,
                    partitions: partitions, transactionLog: transactionLog, lastCommit: lastCommit)
                let recovered = ([(TransactionLog.directoryName, transactionLog)] + partitions.sorted { $0.key < $1.key }.map { ($0.key.directoryName, $0.value) })
                    .first { $0.1.recoveryReason != nil }
                writer.opening = recovered.map { .recovered(reason: "\($0.0): \($0.1.recoveryReason!)") } ?? (marker == nil ? .created : .cleanShutdown)
                do throws(SegmentLogError) { try writer.enforceRetentionHeld() } catch {
                    // The lease's lock is held here: the writer must not release it from its
                    // deinit (a recursive lock); the caller releases it.
                    writer.isClosed = true
                    throw error
                }
                // Started once the open can no longer fail; the segments sealed now are offered
                // here, later ones after each retention pass. Its swaps wait for the lease.
                if let settings = config.recompression {
                    let recompressor = SealedSegmentRecompressor(
                        settings: settings, indexInterval: config.indexIntervalBytes, limits: config.limits, logger: logger,
                        exclusively: { body throws(SegmentLogError) in try lease.whileHeld(by: producer, body) })
                    writer.recompressor = recompressor
                    for log in partitions.values {
                        log.recompressor = recompressor
                        recompressor.offer(partition: log.path, sealed: log.sealedSegments)
                    }
                }
                logger.info("log writer open", metadata: [
                    "segmentlog.directory": "\(path)", "segmentlog.producer": "\(producer)",
                    "segmentlog.partitions": "\(partitions.count)", "segmentlog.opening": "\(writer.opening)",
                ])
                return writer
            }
        } catch {
            lease.release(by: producer)
            throw error
        }
    }

    /// Reads and deletes the clean shutdown marker (syncing the directory, so the deletion is
    /// durable before the first write). Returns it, or nil and why there is none to trust.
    private static func takeCleanShutdownMarker(_ path: String) throws(SegmentLogError) -> (CleanShutdownMarker?, String) {
        let markerPath = path + "/" + CleanShutdownMarker.fileName
        // A marker whose atomic write was cut short never counted.
        if FileIO.exists(markerPath + ".tmp") { try FileIO.remove(markerPath + ".tmp") }
        guard let bytes = try FileIO.readFile(markerPath) else { return (nil, "no clean shutdown marker (the last writer did not close cleanly)") }
        try FileIO.remove(markerPath)
        try FileIO.syncDirectory(path)
        do {
            return (try CleanShutdownMarker.decode(bytes), "")
        } catch {
            return (nil, "the clean shutdown marker is unreadable (\(error.message))")
        }
    }

    /// A transaction whose data has no marker was cut short by a crash: it committed if the
    /// newest commit record names it (same partition, same first offset), else it aborts.
    private static func resolveInDoubt(
        _ partitions: [TopicPartition: PartitionLog], lastCommit: CommitRecord?, logger: Logger
    ) throws(SegmentLogError) {
        for (tp, log) in partitions.sorted(by: { $0.key < $1.key }) {
            for (producerId, entry) in log.producers.sorted(by: { $0.key < $1.key }) {
                guard let first = entry.openTransactionFirstOffset else { continue }
                let committed = lastCommit.map { record in
                    record.producer.producerId == producerId
                        && record.ranges.contains { $0.topicPartition == tp && $0.firstOffset == first }
                } ?? false
                let type: ControlType = committed ? .commit : .abort
                logger.info("resolving in-doubt transaction", metadata: [
                    "segmentlog.partition": "\(tp)", "segmentlog.firstOffset": "\(first)", "segmentlog.outcome": "\(type)",
                ])
                try log.writeMarker(type, producer: ProducerIdentity(producerId: producerId, epoch: entry.epoch))
            }
            try log.sync()
        }
    }

    // MARK: Transactions

    public func beginTransaction() throws(SegmentLogError) {
        try usable()
        guard transactionStartedAt == nil else {
            throw SegmentLogError(.invalidTransactionState, "a transaction is already open")
        }
        try lease.whileHeld(by: producer) {}
        transactionStartedAt = config.clock()
        transactionBytes = 0
        touched = [:]
    }

    /// Appends records to a partition inside the open transaction, in batches of about
    /// `config.maxBatchBytes`. `baseSequence` is for a caller that may retry an append whose
    /// outcome it does not know: take `nextSequence(for:)` before the first attempt and pass it
    /// on every attempt; a repeat of one of the last five batches is recognised and not
    /// written twice (its original offsets are returned).
    @discardableResult
    public func append(_ records: [Record], to tp: TopicPartition, baseSequence: Int32? = nil) throws(SegmentLogError) -> AppendResult {
        try usable()
        guard transactionStartedAt != nil else {
            throw SegmentLogError(.invalidTransactionState, "append needs an open transaction (call beginTransaction)")
        }
        return try appendBatches(records, to: tp, baseSequence: baseSequence, transactional: true)
    }

    /// Appends records outside any transaction (at-least-once, at-most-once): idempotent
    /// batches (producer id, epoch, sequence) that read_committed readers see at once, with no
    /// marker and no commit record. Not durable until `sync()`; the caller keeps its source
    /// position itself. Refused while a transaction is open.
    @discardableResult
    public func appendPlain(_ records: [Record], to tp: TopicPartition, baseSequence: Int32? = nil) throws(SegmentLogError) -> AppendResult {
        try usable()
        guard transactionStartedAt == nil else {
            throw SegmentLogError(.invalidTransactionState, "a plain append cannot join the open transaction")
        }
        return try appendBatches(records, to: tp, baseSequence: baseSequence, transactional: false)
    }

    /// Makes everything appended so far durable: fsyncs every partition written since its last
    /// sync (plain appends, markers).
    public func sync() throws(SegmentLogError) {
        try usable()
        try lease.whileHeld(by: producer) { () throws(SegmentLogError) in
            try poisonOnFailure { () throws(SegmentLogError) in
                try timedSync { () throws(SegmentLogError) in try PartitionLog.syncAll(Array(partitions.values)) }
            }
            enforceRetentionIfDue()
        }
        CrashPoint.hit("log.sync.after-fsync")
    }

    /// Appends several partitions' records, encoded by the caller, to the open transaction,
    /// each partition's in batches of about `config.maxBatchBytes`, in the order given. The
    /// batches are encoded and compressed first — on several threads when there is enough of
    /// them — then written one by one. Returns each partition's result, in order.
    @discardableResult
    public func append(_ appends: [(TopicPartition, [EncodedRecord])]) throws(SegmentLogError) -> [AppendResult] {
        try usable()
        guard transactionStartedAt != nil else {
            throw SegmentLogError(.invalidTransactionState, "append needs an open transaction (call beginTransaction)")
        }
        return try appendBatches(appends.map { ($0.0, $0.1, nil) }, transactional: true)
    }

    /// `append(_:)` outside any transaction: see `appendPlain(_:to:baseSequence:)`.
    @discardableResult
    public func appendPlain(_ appends: [(TopicPartition, [EncodedRecord])]) throws(SegmentLogError) -> [AppendResult] {
        try usable()
        guard transactionStartedAt == nil else {
            throw SegmentLogError(.invalidTransactionState, "a plain append cannot join the open transaction")
        }
        return try appendBatches(appends.map { ($0.0, $0.1, nil) }, transactional: false)
    }

    private func appendBatches(
        _ records: [Record], to tp: TopicPartition, baseSequence: Int32?, transactional: Bool
    ) throws(SegmentLogError) -> AppendResult {
        var encoded: [EncodedRecord] = []
        encoded.reserveCapacity(records.count)
        for record in records { encoded.append(try EncodedRecord(record)) }
        return try appendBatches([(tp, encoded, baseSequence)], transactional: transactional)[0]
    }

    /// One batch to write: a stretch of one partition's records.
    private struct Chunk {
        var append: Int
        var range: Range<Int>
        var bytes: Int
    }

    /// Below this many bytes in one call, batches are encoded on the calling thread: waking
    /// other threads costs more than it saves.
    static let concurrentPrepareBytes = 256 << 10

    private func appendBatches(
        _ appends: [(TopicPartition, [EncodedRecord], baseSequence: Int32?)], transactional: Bool
    ) throws(SegmentLogError) -> [AppendResult] {
        guard !appends.isEmpty, appends.allSatisfy({ !$0.1.isEmpty }) else { throw SegmentLogError(.invalidArgument, "append of no records") }
        var chunks: [Chunk] = []
        var totalBytes = 0
        for (index, append) in appends.enumerated() {
            let records = append.1
            var start = 0
            while start < records.count {
                var end = start
                var size = 0
                while end < records.count && (end == start || size < config.maxBatchBytes) {
                    size += records[end].size + 12
                    end += 1
                }
                chunks.append(Chunk(append: index, range: start..<end, bytes: size))
                totalBytes += size
                start = end
            }
        }
        let prepared = try prepare(chunks, of: appends, concurrently: chunks.count > 1 && totalBytes >= Self.concurrentPrepareBytes)
        return try lease.whileHeld(by: producer) { () throws(SegmentLogError) in
            var results: [AppendResult?] = Array(repeating: nil, count: appends.count)
            var sequences = appends.map(\.baseSequence)
            for (chunk, batch) in zip(chunks, prepared) {
                let tp = appends[chunk.append].0
                let log = try partition(tp)
                let sequence = sequences[chunk.append]
                let appended = try poisonOnFailure { () throws(SegmentLogError) in
                    try log.append(batch, producer: producer, baseSequence: sequence, transactional: transactional)
                }
                CrashPoint.hit("log.append.after-data")
                sequences[chunk.append] = sequence.map { $0 &+ Int32(batch.count) }
                if !appended.wasDuplicate { transactionBytes += chunk.bytes }
                let previous = results[chunk.append]
                results[chunk.append] = AppendResult(
                    firstOffset: previous?.firstOffset ?? appended.firstOffset, lastOffset: appended.lastOffset,
                    wasDuplicate: (previous?.wasDuplicate ?? true) && appended.wasDuplicate)
                if transactional {
                    let range = touched[tp]
                    touched[tp] = (range?.first ?? appended.firstOffset, max(range?.last ?? appended.lastOffset, appended.lastOffset))
                }
            }
            return results.map { $0! }
        }
    }

    /// Encodes and compresses each chunk's batch.
    private func prepare(
        _ chunks: [Chunk], of appends: [(TopicPartition, [EncodedRecord], baseSequence: Int32?)], concurrently: Bool
    ) throws(SegmentLogError) -> [PreparedBatch] {
        let compression = config.compression
        let level = config.zstdLevel
        guard concurrently else {
            var prepared: [PreparedBatch] = []
            prepared.reserveCapacity(chunks.count)
            for chunk in chunks {
                prepared.append(try BatchCodec.prepare(Array(appends[chunk.append].1[chunk.range]), compression: compression, zstdLevel: level))
            }
            return prepared
        }
        let results = Mutex<[Result<PreparedBatch, SegmentLogError>?]>(Array(repeating: nil, count: chunks.count))
        DispatchQueue.concurrentPerform(iterations: chunks.count) { index in
            let chunk = chunks[index]
            let result = Result { () throws(SegmentLogError) in
                try BatchCodec.prepare(Array(appends[chunk.append].1[chunk.range]), compression: compression, zstdLevel: level)
            }
            results.withLock { $0[index] = result }
        }
        return try results.withLock { $0 }.map { result throws(SegmentLogError) in try result!.get() }
    }

    /// The sequence number the next append to `tp` will get.
    public func nextSequence(for tp: TopicPartition) throws(SegmentLogError) -> Int32 {
        try lease.whileHeld(by: producer) { () throws(SegmentLogError) in
            try partition(tp).producers[producer.producerId].map { $0.epoch == producer.epoch ? $0.nextSequence : 0 } ?? 0
        }
    }

    /// Runs one fsync phase (several files synced together count as one: they wait on the
    /// device together) and tells `fsyncObserver` how long it took.
    private func timedSync(_ body: () throws(SegmentLogError) -> Void) throws(SegmentLogError) {
        guard let observer = fsyncObserver else { return try body() }
        let start = ContinuousClock.now
        try body()
        observer(ContinuousClock.now - start)
    }

    /// Makes the open transaction durable with `metadata`; returns once the commit record is
    /// synced. A commit with no appends still records the metadata.
    @discardableResult
    public func commit(metadata: [UInt8]) throws(SegmentLogError) -> CommitResult {
        try usable()
        guard transactionStartedAt != nil else { throw SegmentLogError(.invalidTransactionState, "no open transaction to commit") }
        return try lease.whileHeld(by: producer) { () throws(SegmentLogError) in
            try poisonOnFailure { () throws(SegmentLogError) in
                let tps = touched.keys.sorted()
                // Every dirty partition, not only this transaction's: the COMMIT markers of the
                // previous commit are unsynced, and recovery can re-derive markers only for the
                // newest commit record, so older markers must be durable before a newer record.
                try timedSync { () throws(SegmentLogError) in try PartitionLog.syncAll(Array(partitions.values)) }
                CrashPoint.hit("log.commit.after-data-fsync")
                let record = CommitRecord(
                    transactionId: (lastCommit?.transactionId ?? 0) + 1, producer: producer, timestamp: config.clock(),
                    ranges: tps.map { CommittedRange(topicPartition: $0, firstOffset: touched[$0]!.first, lastOffset: touched[$0]!.last) },
                    metadata: metadata)
                _ = try transactionLog.append(
                    [Record(key: CommitRecord.key, value: record.encoded(), timestamp: record.timestamp)],
                    producer: .none, baseSequence: nil, transactional: false)
                CrashPoint.hit("log.commit.after-record-append")
                try timedSync { () throws(SegmentLogError) in try transactionLog.sync() }
                CrashPoint.hit("log.commit.after-record-fsync")
                // Committed. The markers only make it visible; recovery writes them if we fail here.
                lastCommit = record
                transactionStartedAt = nil
                for tp in tps { try partitions[tp]!.writeMarker(.commit, producer: producer) }
                CrashPoint.hit("log.commit.after-markers")
                touched = [:]
                enforceRetentionIfDue()
                return CommitResult(transactionId: record.transactionId, ranges: record.ranges)
            }
        }
    }

    /// Abandons the open transaction: ABORT markers and `.txnindex` entries in every partition
    /// it wrote. Readers in read_committed never see its records.
    public func abort() throws(SegmentLogError) {
        try usable()
        guard transactionStartedAt != nil else { throw SegmentLogError(.invalidTransactionState, "no open transaction to abort") }
        try lease.whileHeld(by: producer) { () throws(SegmentLogError) in
            try poisonOnFailure { () throws(SegmentLogError) in
                for tp in touched.keys.sorted() {
                    try partitions[tp]!.writeMarker(.abort, producer: producer)
                    try partitions[tp]!.sync()
                }
                touched = [:]
                transactionStartedAt = nil
            }
        }
    }

    /// Deletes segments beyond the retention settings in every partition.
    public func enforceRetention() throws(SegmentLogError) {
        try usable()
        try lease.whileHeld(by: producer) { () throws(SegmentLogError) in try enforceRetentionHeld() }
    }

    private func enforceRetentionHeld() throws(SegmentLogError) {
        for log in partitions.values { try log.enforceRetention() }
        try transactionLog.enforceRetention()
        lastRetentionCheck = config.clock()
    }

    /// When retention last ran over every partition (by `config.clock`).
    private var lastRetentionCheck: Int64 = .min

    /// Retention for a writer that stays open for weeks, run after a commit or a sync (the
    /// points where a caller has finished a unit of work and the writer holds the lease):
    /// - a partition that sealed a segment since retention last looked is checked at once,
    ///   since only a roll can push it past `retentionBytes`, and a roll is rare, so checking
    ///   on it costs nothing in the common commit;
    /// - every partition is checked at most every `retentionCheckMilliseconds`, since segments
    ///   age past `retentionMilliseconds` with the clock, not with writes.
    /// A failure here does not fail the commit or sync, which is already durable: it is
    /// logged, and retention runs again at the next occasion.
    private func enforceRetentionIfDue() {
        let now = config.clock()
        let due = now - config.retentionCheckMilliseconds >= lastRetentionCheck
        do throws(SegmentLogError) {
            for log in [transactionLog] + Array(partitions.values) where due || log.rolledSinceRetention {
                try log.enforceRetention()
            }
            if due { lastRetentionCheck = now }
        } catch {
            logger.info("retention failed; it runs again after the next commit", metadata: ["segmentlog.error": "\(error)"])
        }
    }

    /// Records that `topic` has `partitionCount` partitions (see `TopicDeclarations`), so that
    /// readers list every partition before each has been written. Cheap once the topic is
    /// recorded with at least that count: the file is read once and written only on a change.
    public func declareTopic(_ topic: String, partitionCount: Int32) throws(SegmentLogError) {
        try usable()
        guard partitionCount > 0 else { throw SegmentLogError(.invalidArgument, "topic \(topic) needs at least one partition, not \(partitionCount)") }
        let declarations = TopicDeclarations(logDirectory: directory)
        if declaredTopics == nil { declaredTopics = try declarations.partitionCounts() }
        if let known = declaredTopics?[topic], known >= partitionCount { return }
        declaredTopics = try declarations.declare([topic: partitionCount])
    }

    /// Closes after making everything durable and writing the clean shutdown marker, so the
    /// next `open` trusts the files instead of reading the active segments through. Without
    /// the marker (returns false, logged why) when the writer cannot vouch for the files: a
    /// transaction is open (the next open aborts it), an earlier failure stopped the writer, a
    /// newer writer fenced it, or a sync or the marker's write failed. The directory is
    /// released in every case.
    @discardableResult
    public func closeCleanly() -> Bool {
        guard !isClosed else { return false }
        defer { close() }
        let refusal: String? =
            if let poisoned { "an earlier failure stopped the writer (\(poisoned.message))" }
            else if transactionStartedAt != nil { "a transaction is open" }
            else { nil }
        if let refusal {
            logger.info("closing without a clean shutdown marker", metadata: ["segmentlog.directory": "\(directory)", "segmentlog.reason": "\(refusal)"])
            return false
        }
        do throws(SegmentLogError) {
            try lease.whileHeld(by: producer) { () throws(SegmentLogError) in
                var marker = CleanShutdownMarker(partitions: [:])
                // Everything the marker vouches for is durable before the marker exists.
                marker.partitions[TransactionLog.directoryName] = try transactionLog.syncForCleanShutdown()
                for (tp, log) in partitions { marker.partitions[tp.directoryName] = try log.syncForCleanShutdown() }
                CrashPoint.hit("log.close.after-sync")
                try FileIO.writeAtomically(directory + "/" + CleanShutdownMarker.fileName, marker.encoded())
                CrashPoint.hit("log.close.after-marker")
            }
        } catch {
            logger.warning("closing without a clean shutdown marker", metadata: ["segmentlog.directory": "\(directory)", "segmentlog.error": "\(error)"])
            return false
        }
        logger.info("closed cleanly", metadata: ["segmentlog.directory": "\(directory)"])
        return true
    }

    /// Releases the directory without a clean shutdown marker: the next open reads the active
    /// segments through. An open transaction is left in doubt and aborted by the next open
    /// (it has no commit record).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        recompressor?.stop()
        partitions = [:]
        lease.release(by: producer)
    }

    deinit { close() }

    // MARK: Helpers

    private func usable() throws(SegmentLogError) {
        if isClosed { throw SegmentLogError(.writerClosed, "the writer is closed") }
        if let poisoned {
            throw SegmentLogError(.writerClosed, "an earlier failure stopped this writer; reopen the log to recover (\(poisoned.message))")
        }
    }

    private func poisonOnFailure<T>(_ body: () throws(SegmentLogError) -> T) throws(SegmentLogError) -> T {
        do { return try body() } catch {
            if error.code != .outOfOrderSequence && error.code != .invalidArgument { poisoned = error }
            throw error
        }
    }

    private func partition(_ tp: TopicPartition) throws(SegmentLogError) -> PartitionLog {
        if let log = partitions[tp] { return log }
        let log = try PartitionLog.open(path: directory + "/" + tp.directoryName, config: config.forTopic(tp.topic), logger: logger)
        log.recompressor = recompressor
        partitions[tp] = log
        return log
    }

}
