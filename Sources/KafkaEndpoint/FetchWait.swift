import NIOCore

/// Whether a Fetch is answered now or waits for more data: Kafka's long poll.
///
/// A fetch is answered as soon as it has at least `minBytes` of records, any partition has an
/// error (waiting would not change it), or its `max_wait_ms` has passed; otherwise it waits for
/// the log to change, at most until the deadline, and then reads again.
struct FetchWait: Sendable, Hashable {
    var minBytes: Int
    var deadline: NIODeadline

    enum Action: Sendable, Hashable {
        case respond
        /// Read again when the log changes, or at the deadline at the latest.
        case waitForChange(until: NIODeadline)
    }

    init(minBytes: Int32, maxWaitMs: Int32, receivedAt: NIODeadline) {
        self.minBytes = Int(minBytes)
        deadline = receivedAt + .milliseconds(Int64(max(0, maxWaitMs)))
    }

    /// What to do after a read that found `bytesRead` bytes of records.
    func next(bytesRead: Int, anyPartitionFailed: Bool, now: NIODeadline) -> Action {
        if anyPartitionFailed || bytesRead >= minBytes || now >= deadline { return .respond }
        return .waitForChange(until: deadline)
    }
}
