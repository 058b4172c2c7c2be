import BinaryIO
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Which sealed segments are waiting for recompression, in the order they were offered: the
/// scheduling decisions of `SealedSegmentRecompressor`, without threads or files.
struct RecompressionQueue: Sendable {
    struct Job: Hashable, Sendable {
        var partition: String
        var baseOffset: Int64
    }

    private(set) var pending: [Job] = []
    private(set) var running: Job?
    /// Queued, running or done in this process: offered again after each retention pass, a
    /// segment is taken once (a failed one too, so a damaged segment does not loop).
    private var known: Set<Job> = []
    private(set) var isStopping = false

    var isIdle: Bool { pending.isEmpty && running == nil }

    /// Queues the sealed segments of `partition` not seen yet, oldest first; returns whether
    /// anything was queued. Segments retention deleted are forgotten.
    @discardableResult
    mutating func offer(partition: String, sealed bases: [Int64]) -> Bool {
        guard !isStopping else { return false }
        let present = Set(bases)
        known = known.filter { $0.partition != partition || present.contains($0.baseOffset) || $0 == running }
        pending.removeAll { $0.partition == partition && !present.contains($0.baseOffset) }
        var added = false
        for base in bases.sorted() {
            let job = Job(partition: partition, baseOffset: base)
            if known.insert(job).inserted {
                pending.append(job)
                added = true
            }
        }
        return added
    }

    /// The next job to run, nil when there is none or the queue is stopping.
    mutating func take() -> Job? {
        guard !isStopping, running == nil, !pending.isEmpty else { return nil }
        running = pending.removeFirst()
        return running
    }

    mutating func finished() { running = nil }

    mutating func stop() {
        isStopping = true
        pending = []
    }
}

/// How long the background thread pauses after a batch so that its working time is `cpuShare`
/// of the time that passes (a pause of work × (1 − share) / share).
struct RecompressionPacing: Sendable {
    var cpuShare: Double

    func pause(after work: Duration) -> Duration {
        guard cpuShare < 1 else { return .zero }
        return work * ((1 - cpuShare) / cpuShare)
    }
}

/// What the background recompression has done since the writer opened.
public struct RecompressionStatistics: Sendable, Hashable {
    /// Segments swapped for a smaller file.
    public var segmentsRecompressed = 0
    /// Segments looked at and kept (already done, or not smaller at the level).
    public var segmentsKept = 0
    public var failures = 0
    /// Bytes of the swapped segments before and after.
    public var originalBytes: Int64 = 0
    public var storedBytes: Int64 = 0
}

/// The writer's background thread that recompresses sealed segments at a high zstd level (see
/// `SegmentRecompression`). The partitions offer their sealed segments after each retention pass
/// (so nothing retention is about to delete is worked on first, and segments found sealed at open
/// are offered by the first pass); the thread runs at the lowest scheduling priority (nice 19) and
/// paces itself to `RecompressionSettings.cpuShare` of a core, so appends, commits and readers
/// keep the machine. The renames take the writer's lease for a moment (two directory fsyncs).
///
/// Its mutable state is guarded by `condition`, hence `@unchecked Sendable`.
public final class SealedSegmentRecompressor: @unchecked Sendable {
    public let settings: RecompressionSettings
    private let indexInterval: Int
    private let limits: DecodeLimits
    private let logger: Logger
    private let exclusively: @Sendable (() throws(SegmentLogError) -> Void) throws(SegmentLogError) -> Void
    private let condition = NSCondition()
    private var queue = RecompressionQueue()
    private var statisticsSoFar = RecompressionStatistics()
    private var threadExited = false

    init(
        settings: RecompressionSettings, indexInterval: Int, limits: DecodeLimits, logger: Logger,
        exclusively: @escaping @Sendable (() throws(SegmentLogError) -> Void) throws(SegmentLogError) -> Void
    ) {
        self.settings = settings
        self.indexInterval = indexInterval
        self.limits = limits
        self.logger = logger
        self.exclusively = exclusively
        let thread = Thread { [self] in self.runLoop() }
        thread.name = "outflow.recompress"
        thread.start()
    }

    public var statistics: RecompressionStatistics {
        condition.lock()
        defer { condition.unlock() }
        return statisticsSoFar
    }

    /// Queues `partition`'s sealed segments that are not queued or done yet.
    func offer(partition: String, sealed bases: [Int64]) {
        condition.lock()
        defer { condition.unlock() }
        if queue.offer(partition: partition, sealed: bases) { condition.broadcast() }
    }

    /// Waits until nothing is queued or running, or `timeout` passed; returns whether idle.
    public func waitUntilIdle(timeout: Duration) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while !queue.isIdle && !threadExited {
            if !condition.wait(until: deadline) { return queue.isIdle }
        }
        return queue.isIdle
    }

    /// Stops the thread and waits for it: a segment in progress is abandoned (its new files
    /// deleted, the old one untouched) after the batch being compressed.
    func stop() {
        condition.lock()
        queue.stop()
        condition.broadcast()
        while !threadExited { condition.wait() }
        condition.unlock()
    }

    private func runLoop() {
        // Linux keeps a nice value per thread; `who` 0 is the calling thread.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        while let job = nextJob() {
            let files = SegmentFiles(directory: job.partition, baseOffset: job.baseOffset)
            let recompression = SegmentRecompression(files: files, level: settings.level, indexInterval: indexInterval, limits: limits)
            let outcome: Result<SegmentRecompression.Outcome, SegmentLogError> = Result { () throws(SegmentLogError) in
                try recompression.run(afterBatch: pace, exclusively: exclusively)
            }
            condition.lock()
            switch outcome {
            case .success(.swapped(let original, let stored)):
                statisticsSoFar.segmentsRecompressed += 1
                statisticsSoFar.originalBytes += original
                statisticsSoFar.storedBytes += stored
            case .success(.notSmaller), .success(.alreadyDone):
                statisticsSoFar.segmentsKept += 1
            case .success(.gone), .success(.stopped):
                break
            case .failure:
                statisticsSoFar.failures += 1
            }
            queue.finished()
            condition.broadcast()
            condition.unlock()
            switch outcome {
            case .success(.swapped(let original, let stored)):
                logger.info("recompressed a sealed segment", metadata: [
                    "segmentlog.segment": "\(files.log)", "segmentlog.level": "\(settings.level)",
                    "segmentlog.bytesBefore": "\(original)", "segmentlog.bytesAfter": "\(stored)",
                ])
            case .failure(let error):
                logger.warning("recompressing a sealed segment failed; it stays as it is", metadata: [
                    "segmentlog.segment": "\(files.log)", "segmentlog.error": "\(error)",
                ])
            default:
                break
            }
        }
        ZstdThreadContexts.release()
        condition.lock()
        threadExited = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for a job; nil once stopping.
    private func nextJob() -> RecompressionQueue.Job? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if queue.isStopping { return nil }
            if let job = queue.take() { return job }
            condition.wait()
        }
    }

    /// After a batch: pauses to keep to the CPU share; false when stopping.
    private func pace(_ work: Duration) -> Bool {
        let pause = RecompressionPacing(cpuShare: settings.cpuShare).pause(after: work)
        let until = Date(timeIntervalSinceNow: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while !queue.isStopping && Date() < until { _ = condition.wait(until: until) }
        return !queue.isStopping
    }
}
