import PGOutput

/// A visibility watermark: what the source database had committed at one moment. Taken in one
/// repeatable-read transaction, in this order: `pg_current_snapshot()`; the transaction ids
/// still running (`pg_locks`: every transaction id, a subtransaction's too, is locked until its
/// top-level transaction ends — the snapshot lists top-level ids only, so a row written after a
/// SAVEPOINT of a transaction in progress would look visible in it); then
/// `pg_current_wal_insert_lsn()` and `clock_timestamp()`. A row whose xmin is visible in the
/// snapshot and not among the running ids was committed before the ids were read: its commit
/// record is before `lsn`, and it committed before `time`.
public struct CleanupWatermark: Sendable, Equatable, Codable {
    /// The `pg_snapshot` in its text form, `xmin:xmax:xip,…` (64-bit transaction ids).
    public var snapshot: String
    /// Transaction ids (32-bit, as a row's xmin) still running after the snapshot, subtransactions included.
    public var running: [UInt32]
    public var lsn: LSN
    /// The server's clock, seconds since the epoch.
    public var time: Double

    public init(snapshot: String, running: [UInt32] = [], lsn: LSN, time: Double) {
        self.snapshot = snapshot
        self.running = running
        self.lsn = lsn
        self.time = time
    }

    enum CodingKeys: String, CodingKey { case snapshot, running, lsn, time }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        snapshot = try container.decode(String.self, forKey: .snapshot)
        running = try container.decodeIfPresent([UInt32].self, forKey: .running) ?? []
        let text = try container.decode(String.self, forKey: .lsn)
        guard let lsn = LSN(text) else {
            throw DecodingError.dataCorruptedError(forKey: .lsn, in: container, debugDescription: "not a WAL position: \(text)")
        }
        self.lsn = lsn
        time = try container.decode(Double.self, forKey: .time)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(snapshot, forKey: .snapshot)
        try container.encode(running, forKey: .running)
        try container.encode(lsn.description, forKey: .lsn)
        try container.encode(time, forKey: .time)
    }

    /// The snapshot's xmax (the first transaction id not yet assigned when it was taken), the
    /// reference a row's 32-bit `xmin` is widened against.
    public var xmax: UInt64? {
        let parts = snapshot.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        return UInt64(parts[1])
    }
}

/// Decides, from the clock, the sink's durable position and the watermarks kept, what the
/// outbox cleaner does next — a value without I/O (tested without a server).
///
/// A row may be deleted once it is visible in a watermark whose LSN the sink's durable position
/// has reached (its transaction's commit is before that LSN, so the transaction is in the sink)
/// and whose time is at least `retention` ago (the row committed before that time). Later
/// watermarks see everything earlier ones saw, so the newest usable one is the one to use, and
/// the ones before it are no longer needed.
public struct CleanupPlanner: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        public var retention: Duration
        public var interval: Duration
        /// The most watermarks kept; past it every second one in the middle is dropped (the
        /// span is kept, its resolution halves: cleanup happens a little later, never earlier).
        public var maximumWatermarks: Int

        public init(retention: Duration, interval: Duration, maximumWatermarks: Int = 128) {
            self.retention = retention
            self.interval = interval
            self.maximumWatermarks = max(4, maximumWatermarks)
        }

        /// How far apart watermarks are taken: the interval, or a 64th of the retention when
        /// that is longer, so a long retention needs about 64 of them.
        public var spacing: Double { max(seconds(interval), seconds(retention) / 64) }
    }

    public enum Action: Sendable, Equatable {
        /// Take a new watermark (and hand it to `recorded`).
        case takeWatermark
        /// Delete the rows visible in this watermark (then `cleaned(with:)`).
        case clean(CleanupWatermark)
    }

    public let settings: Settings
    /// Oldest first.
    public private(set) var watermarks: [CleanupWatermark]
    /// The watermark whose rows were all deleted last: cleaning with it again finds nothing.
    public private(set) var lastCleaned: CleanupWatermark?

    public init(settings: Settings, watermarks: [CleanupWatermark] = [], lastCleaned: CleanupWatermark? = nil) {
        self.settings = settings
        self.watermarks = watermarks.sorted { $0.time < $1.time }
        self.lastCleaned = lastCleaned
    }

    /// The newest watermark whose LSN is durable and whose time is at least the retention before `now`.
    public func usable(now: Double, durable: LSN) -> CleanupWatermark? {
        let cutoff = now - seconds(settings.retention)
        return watermarks.last { $0.time <= cutoff && $0.lsn <= durable }
    }

    /// What to do now: a new watermark when the newest is `spacing` old (or there is none), and
    /// a clean with the newest usable watermark unless that one was cleaned with already.
    public func plan(now: Double, durable: LSN) -> [Action] {
        var actions: [Action] = []
        if let usable = usable(now: now, durable: durable), usable != lastCleaned { actions.append(.clean(usable)) }
        // A clock that went back is no reason to stop taking watermarks.
        if let newest = watermarks.last, now - newest.time < settings.spacing, now >= newest.time {
            return actions
        }
        actions.append(.takeWatermark)
        return actions
    }

    /// A watermark was taken.
    public mutating func recorded(_ watermark: CleanupWatermark) {
        watermarks.append(watermark)
        watermarks.sort { $0.time < $1.time }
        while watermarks.count > settings.maximumWatermarks {
            // Keep the oldest (closest to usable) and the newest; thin out the middle.
            var thinned: [CleanupWatermark] = []
            for (index, element) in watermarks.enumerated() where index == 0 || index == watermarks.count - 1 || index % 2 == 0 {
                thinned.append(element)
            }
            watermarks = thinned
        }
    }

    /// Every row visible in `watermark` is gone: the watermarks before it are not needed any more.
    public mutating func cleaned(with watermark: CleanupWatermark) {
        lastCleaned = watermark
        watermarks.removeAll { $0.time < watermark.time }
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
