import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM; the follow loop checks it and stops cleanly.
let tailInterrupted = Atomic<Bool>(false)

enum TailSignals {
    /// Ignores SIGPIPE (a closed pipe becomes EPIPE on write) and turns SIGINT/SIGTERM into
    /// `tailInterrupted`; poll(2) returns EINTR, so a waiting follower wakes at once.
    static func install() {
        signal(SIGPIPE, SIG_IGN)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in tailInterrupted.store(true, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }
}
