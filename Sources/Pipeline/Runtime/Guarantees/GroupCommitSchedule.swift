/// When a group of source transactions commits, as a value: it takes the time and the state
/// and says what to do (how long to wait for input, commit now, make the group visible, sync),
/// so the timing rules are tested without a clock or a server.
///
/// A group commits only between source transactions: when the stream pauses, or when it
/// reaches `maxBytes`, or `maxLatency` after it began (or after it was allowed to commit, if
/// later) — but never sooner than `spacing` after the previous commit began. Under a steady
/// stream of small transactions each would otherwise be followed by a pause and commit alone,
/// with its fsyncs; the spacing bounds the commits to 1 / spacing per second. A transaction
/// after a quiet spell commits at once.
struct GroupCommitSchedule {
    struct Settings: Equatable {
        var maxBytes = 4 << 20
        var maxLatency: Duration = .milliseconds(100)
        /// Nil: commits are not spaced (at-most-once's commit is only appending).
        var spacing: Duration? = .milliseconds(5)
        /// Nothing becomes visible before the group commits (exactly-once): wait out the spacing
        /// asleep and then read what arrived in one go, rather than waking for every transaction.
        var sleepsThroughSpacing = true
        /// Plain appends become visible at a source Commit at most this often, before the group
        /// commits (at-least-once).
        var visibilityInterval: Duration?
        /// The storage is synced this often, off the acknowledgement path (at-most-once).
        var backgroundSyncInterval: Duration?
        /// How long a read waits when nothing is pending.
        var idleReadTimeout: Duration = .milliseconds(200)
    }

    /// How to wait for the next source event.
    struct Wait: Equatable {
        /// Sleep this long first (zero: not at all).
        var sleep: Duration
        /// Then wait at most this long for an event.
        var readTimeout: Duration
    }

    /// What to do when the source had nothing within the wait.
    enum IdleAction: Equatable {
        case commit
        case makeVisible
        case none
    }

    let settings: Settings
    private(set) var groupStartedAt: ContinuousClock.Instant?
    private(set) var lastCommitStartedAt: ContinuousClock.Instant?
    private var lastVisibleAt: ContinuousClock.Instant
    private var lastSyncAt: ContinuousClock.Instant
    /// A source transaction read completely and not yet committed.
    private(set) var hasPendingTransactions = false

    init(settings: Settings, now: ContinuousClock.Instant) {
        self.settings = settings
        lastVisibleAt = now
        lastSyncAt = now
    }

    /// When the group may commit; nil when nothing holds it back.
    var commitAllowedAt: ContinuousClock.Instant? {
        guard let spacing = settings.spacing else { return nil }
        return lastCommitStartedAt?.advanced(by: spacing)
    }

    func timeUntilCommitAllowed(now: ContinuousClock.Instant) -> Duration {
        guard let allowed = commitAllowedAt else { return .zero }
        return max(.zero, allowed - now)
    }

    /// How to wait for input. Only a pending group between transactions changes the wait: it
    /// commits at the next pause once the spacing has passed.
    func wait(now: ContinuousClock.Instant, inTransaction: Bool) -> Wait {
        guard hasPendingTransactions, !inTransaction else { return Wait(sleep: .zero, readTimeout: settings.idleReadTimeout) }
        let untilAllowed = timeUntilCommitAllowed(now: now)
        if settings.sleepsThroughSpacing { return Wait(sleep: untilAllowed, readTimeout: .zero) }
        // Transactions are shown (or acknowledged) as they arrive: wait for the next one, but
        // no longer than until the group may commit.
        return Wait(sleep: .zero, readTimeout: min(.seconds(1), untilAllowed))
    }

    /// The source paused (nothing within the wait).
    mutating func idle(now: ContinuousClock.Instant, inTransaction: Bool) -> IdleAction {
        guard !inTransaction, hasPendingTransactions else { return .none }
        if timeUntilCommitAllowed(now: now) == .zero { return .commit }
        // Its sync waits for the spacing; the records need not: visible now.
        if settings.visibilityInterval != nil {
            lastVisibleAt = now
            return .makeVisible
        }
        return .none
    }

    /// A source transaction began.
    mutating func transactionBegan(now: ContinuousClock.Instant) {
        if groupStartedAt == nil { groupStartedAt = now }
    }

    /// A source transaction was read completely; true when its records should be made visible
    /// now (ahead of the group's commit).
    mutating func transactionCompleted(now: ContinuousClock.Instant) -> Bool {
        hasPendingTransactions = true
        guard let interval = settings.visibilityInterval, now - lastVisibleAt >= interval else { return false }
        lastVisibleAt = now
        return true
    }

    /// Between source transactions, after an event: true when a stream that never pauses must
    /// commit anyway (size, or latency counted from when the group began or was allowed to
    /// commit, whichever is later: a group that waited out the spacing reads what arrived meanwhile).
    func mustCommitWithoutPause(now: ContinuousClock.Instant, groupBytes: Int) -> Bool {
        guard hasPendingTransactions, let started = groupStartedAt else { return false }
        let allowed = commitAllowedAt.map { max(started, $0) } ?? started
        return groupBytes >= settings.maxBytes || now - allowed >= settings.maxLatency
    }

    /// True when the background sync is due (and counts it as done). Asked after every event:
    /// the clock is read only by a mode that syncs in the background.
    mutating func backgroundSyncDue(now: @autoclosure () -> ContinuousClock.Instant) -> Bool {
        guard let interval = settings.backgroundSyncInterval else { return false }
        let now = now()
        guard now - lastSyncAt >= interval else { return false }
        lastSyncAt = now
        return true
    }

    mutating func commitStarted(now: ContinuousClock.Instant) { lastCommitStartedAt = now }

    /// The group committed or was dropped: the next one starts with the next transaction.
    mutating func groupEnded() {
        hasPendingTransactions = false
        groupStartedAt = nil
    }
}
