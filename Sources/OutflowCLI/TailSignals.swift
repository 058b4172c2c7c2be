import Foundation
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

/// Wakes a follower when files change in the watched directories (inotify), so new data is
/// printed promptly without busy polling; a timeout bounds the wait as a fallback.
final class TailWatcher {
    private let descriptor: Int32
    private var watched: Set<String> = []

    init() {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    func watch(_ path: String) {
        guard descriptor >= 0, !watched.contains(path) else { return }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)
        if inotify_add_watch(descriptor, path, mask) >= 0 { watched.insert(path) }
    }

    /// Blocks until something changed, a signal arrived, or `timeout` milliseconds passed.
    func wait(timeout: Int32) {
        guard descriptor >= 0 else {
            usleep(UInt32(timeout) * 1000)
            return
        }
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&request, 1, timeout)
        var drain = [UInt8](repeating: 0, count: 4096)
        while drain.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
    }
}
