import PGOutput

/// Decides what the standby status updates say and when they are sent.
///
/// - The flush position is never beyond what the sink reported durable, with one exception
///   that is just as safe: when nothing is in flight (no transaction open, everything handed
///   over is durable), a keepalive's WAL end may be acknowledged, so a slot whose tables are
///   quiet — or whose changes are all filtered out — does not pin WAL forever.
/// - A keepalive that asks for a reply gets one at once; otherwise a status goes out every
///   `statusInterval`, also unprompted (with `wal_sender_timeout = 0` the server never asks).
public struct FeedbackPolicy: Sendable {
    public var statusInterval: Duration
    /// The highest WAL end seen in any frame: reported as "written".
    public private(set) var received: LSN = .zero
    /// The highest position the sink reported durable.
    public private(set) var durable: LSN = .zero
    /// The highest keepalive WAL end seen while idle with everything durable.
    public private(set) var idleSafe: LSN = .zero
    /// The end LSN of the last commit handed to the consumer.
    public private(set) var handedOver: LSN = .zero
    /// The flush position last sent.
    public private(set) var lastSentFlush: LSN = .zero
    private var lastSentAt: ContinuousClock.Instant?
    /// A keepalive's WAL end seen while idle but before everything handed over was durable: it
    /// becomes safe when the sink catches up, unless data arrived since. (Once the client reports
    /// that position as written, the server sends no further keepalive to acknowledge.)
    private var idleCandidate: LSN?
    private var replyOwed = false

    static let durableReportInterval = Duration.milliseconds(50)

    public init(statusInterval: Duration = .seconds(10), durable: LSN = .zero) {
        self.statusInterval = statusInterval
        self.durable = durable
        self.handedOver = durable
    }

    /// The flush position to report now.
    public var flushPosition: LSN { max(durable, idleSafe) }

    /// Data (an XLogData frame) arrived up to `walEnd`.
    public mutating func noteReceived(walEnd: LSN) {
        received = max(received, walEnd)
        idleCandidate = nil
    }

    /// A commit was handed to the consumer: it is in flight until reported durable.
    public mutating func noteHandedOver(commitEnd: LSN) {
        handedOver = max(handedOver, commitEnd)
    }

    public mutating func noteDurable(_ lsn: LSN) {
        durable = max(durable, lsn)
        if let candidate = idleCandidate, durable >= handedOver {
            idleSafe = max(idleSafe, candidate)
            idleCandidate = nil
        }
    }

    /// A keepalive arrived. `idle`: no transaction is open in the source.
    public mutating func noteKeepalive(walEnd: LSN, replyRequested: Bool, idle: Bool) {
        received = max(received, walEnd)
        if idle && durable >= handedOver {
            idleSafe = max(idleSafe, walEnd)
        } else if idle {
            idleCandidate = max(idleCandidate ?? .zero, walEnd)
        }
        if replyRequested { replyOwed = true }
    }

    /// When the next status is due (now, when a reply is owed).
    public func nextStatusDue(after now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        guard !replyOwed, let lastSentAt else { return now }
        let due = lastSentAt.advanced(by: statusInterval)
        // Report a new durable position promptly too — it is what lets Postgres recycle WAL —
        // but at most every `durableReportInterval`, so a busy stream is not a status per commit.
        if flushPosition > lastSentFlush { return min(due, lastSentAt.advanced(by: Self.durableReportInterval)) }
        return due
    }

    /// The status update to send now, if one is due; records it as sent. `clock` is read only
    /// when an update is due (this is asked once per message received).
    public mutating func statusUpdate(at now: ContinuousClock.Instant, clock: @autoclosure () -> PostgresTimestamp) -> StandbyStatusUpdate? {
        guard nextStatusDue(after: now) <= now else { return nil }
        let flush = flushPosition
        lastSentAt = now
        lastSentFlush = flush
        replyOwed = false
        return StandbyStatusUpdate(written: max(received, flush), flushed: flush, applied: flush, clock: clock())
    }
}
