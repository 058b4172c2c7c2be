#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Duration {
    /// Whole milliseconds, rounded toward zero.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole milliseconds, rounded up: a wait of under a millisecond handed to `poll` must not
    /// become a busy loop of zero waits.
    package var millisecondsRoundedUp: Int64 { (self + .nanoseconds(999_999)).milliseconds }
}

/// Blocks the calling thread for `duration`, resuming after a signal until all of it passed.
/// For the threads that own a blocking loop (the replication source's reconnection backoff);
/// async code sleeps with `Task.sleep`.
package func sleep(for duration: Duration) {
    guard duration > .zero else { return }
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}
