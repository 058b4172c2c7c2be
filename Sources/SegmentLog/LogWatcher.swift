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

    init(waker: LogWaker = LogWaker()) {
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        self.waker = waker
    }

    deinit { if inotify >= 0 { close(inotify) } }

    /// Watches `directory` for files written, created or moved into it (once per path);
    /// true when this call added the watch.
    @discardableResult
    func watch(_ directory: String) -> Bool {
        guard inotify >= 0, !watched.contains(directory) else { return false }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)
        guard inotify_add_watch(inotify, directory, mask) >= 0 else { return false }
        watched.insert(directory)
        return true
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

/// Waits for any change anywhere in a log: a partition appearing or a segment of any partition
/// written. For a server whose many waiting readers are woken together by one watch of the
/// whole log, where a `LogConsumer` would watch only what it reads.
///
/// Not thread-safe, except `waker`: one thread waits.
public final class LogChangeWatcher {
    public let directory: String
    private let watcher: LogWatcher
    /// Ends a `wait` in progress (or the next one) from any thread.
    public var waker: LogWaker { watcher.waker }

    /// Watches the log at `directory` and the partitions it has now; `waker` ends its waits.
    public init(directory: String, waker: LogWaker = LogWaker()) {
        self.directory = directory
        watcher = LogWatcher(waker: waker)
        watchNewPartitions()
    }

    /// Watches the partition directories that appeared since the last call; returns how many.
    /// A writer may have written into one before its watch was in place: after a non-zero
    /// answer, look at the data again rather than waiting first.
    @discardableResult
    public func watchNewPartitions() -> Int {
        watcher.watch(directory)
        var added = 0
        let names = (try? FileIO.listDirectory(directory)) ?? []
        for name in names where TopicPartition(directoryName: name) != nil {
            if watcher.watch(directory + "/" + name) { added += 1 }
        }
        return added
    }

    /// Blocks until the log may have changed, `waker` is woken, a signal arrives or `timeout`
    /// passes.
    public func wait(timeout: Duration) -> LogConsumer.DataWait {
        switch watcher.wait(timeout: timeout) {
        case .changed: .changed
        case .timedOut: .timedOut
        case .woken: .woken
        case .interrupted: .interrupted
        }
    }
}

/// Ends a `LogConsumer.waitForData` in progress, or the next one, from any thread: a pipe
/// whose read end the wait polls (writing to it is safe anywhere, even in a signal handler).
public final class LogWaker: Sendable {
    /// The read end, polled by `LogWatcher.wait`; -1 if no pipe could be made.
    let descriptor: Int32
    private let writeEnd: Int32

    public init() {
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
