import BinaryIO

#if canImport(Glibc)
import Glibc
#endif

/// Waits for a log to change: inotify on the log directory (a partition appears) and on each
/// followed partition directory (a segment is written, created or renamed into place), so a
/// follower learns of new data promptly without polling the files. A `LogWaker` ends a wait
/// from another thread; a signal ends it too (poll(2) returns EINTR).
final class LogWatcher {
    /// Why a wait ended.
    enum Wake: Sendable, Hashable {
        /// A watched directory changed.
        case changed
        /// The timeout passed with no change.
        case timedOut
        /// `LogWaker.wake()` was called.
        case woken
        /// A signal arrived.
        case interrupted
    }

    private let inotify: Int32
    let waker: LogWaker
    private var watched: Set<String> = []

    init() {
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        waker = LogWaker()
    }

    deinit { if inotify >= 0 { close(inotify) } }

    /// Watches `directory` for files written, created or moved into it (once per path).
    func watch(_ directory: String) {
        guard inotify >= 0, !watched.contains(directory) else { return }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)
        if inotify_add_watch(inotify, directory, mask) >= 0 { watched.insert(directory) }
    }

    /// Blocks until a watched directory changes, the waker is woken, a signal arrives or
    /// `timeout` passes. Without inotify (a kernel without it, or out of watches) only the
    /// timeout and the waker end the wait: the caller then looks again at the timeout.
    func wait(timeout: Duration) -> Wake {
        var fds = [pollfd(fd: waker.descriptor, events: Int16(POLLIN), revents: 0)]
        if inotify >= 0 { fds.append(pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = Int32(clamping: max(0, timeout.millisecondsRoundedUp))
        let ready = poll(&fds, nfds_t(fds.count), milliseconds)
        if ready < 0 { return errno == EINTR ? .interrupted : .timedOut }
        if ready == 0 { return .timedOut }
        if fds[0].revents != 0 {
            waker.drain()
            return .woken
        }
        drainInotify()
        return .changed
    }

    private func drainInotify() {
        var events = [UInt8](repeating: 0, count: 4096)
        while events.withUnsafeMutableBytes({ read(inotify, $0.baseAddress, $0.count) }) > 0 {}
    }
}

/// Ends a `LogConsumer.waitForData` in progress, or the next one, from any thread: a pipe
/// whose read end the wait polls (writing to it is safe anywhere, even in a signal handler).
public final class LogWaker: Sendable {
    /// The read end, polled by `LogWatcher.wait`; -1 if no pipe could be made.
    let descriptor: Int32
    private let writeEnd: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends {
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            }
        }
        descriptor = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    public func wake() {
        var byte: UInt8 = 1
        // Full pipe: a wake is already pending, which is all a wake needs.
        _ = write(writeEnd, &byte, 1)
    }

    func drain() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while bytes.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
    }
}
