import Foundation
import Logging
import NIOCore
import SegmentLog
import Synchronization

/// Tells waiting fetches that the log changed, from one thread that watches the whole log
/// directory with inotify (`LogChangeWatcher`): no polling interval in the delivery path.
///
/// Changes are counted. A fetch notes the count before it reads, and waits only while the
/// count has not moved since: a commit that lands between its read and its wait still wakes it.
final class LogChangeNotifier: Sendable {
    private struct State {
        var changes: UInt64 = 0
        var nextWaiterID: UInt64 = 0
        var waiters: [UInt64: EventLoopPromise<Void>] = [:]
        var stopped = false
    }

    private let state = Mutex(State())
    private let waker = LogWaker()
    private let stoppedThread = DispatchSemaphore(value: 0)

    /// Starts the watching thread; returns once the log and its partitions are watched.
    init(directory: String, logger: Logger) {
        let ready = DispatchSemaphore(value: 0)
        let waker = self.waker
        let thread = Thread { [self] in
            let watcher = LogChangeWatcher(directory: directory, waker: waker)
            ready.signal()
            watch(with: watcher, logger: logger)
            stoppedThread.signal()
        }
        thread.name = "outflow.kafka.watcher"
        thread.start()
        ready.wait()
    }

    /// After `stop`, waiting fetches answer with what they have instead of waiting again.
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Fetches waiting for a change now.
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Changes seen so far: pass it to `waitForChange(after:…)`.
    var changeCount: UInt64 { state.withLock { $0.changes } }

    /// Succeeds when the log changes after `count` was read (at once if it already has), or at
    /// `deadline`, on `eventLoop`.
    func waitForChange(after count: UInt64, until deadline: NIODeadline, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let id: UInt64? = state.withLock { state in
            guard state.changes == count, !state.stopped else { return nil }
            state.nextWaiterID += 1
            state.waiters[state.nextWaiterID] = promise
            return state.nextWaiterID
        }
        guard let id else {
            promise.succeed()
            return promise.futureResult
        }
        eventLoop.scheduleTask(deadline: deadline) { [self] in
            // Whoever removes the waiter completes it: the deadline or a change, never both.
            if let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) { waiter.succeed() }
        }
        return promise.futureResult
    }

    /// Counts a change and wakes every waiting fetch.
    func notifyChange() {
        let woken = state.withLock { state in
            state.changes &+= 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.succeed() }
    }

    /// Stops the watching thread and wakes every waiting fetch (they answer with what they have).
    func stop() {
        let alreadyStopped = state.withLock { state in
            defer { state.stopped = true }
            return state.stopped
        }
        guard !alreadyStopped else { return }
        waker.wake()
        stoppedThread.wait()
        notifyChange()
    }

    private func watch(with watcher: LogChangeWatcher, logger: Logger) {
        while true {
            // A long timeout only bounds the wait: a change or the waker ends it.
            switch watcher.wait(timeout: .seconds(3600)) {
            case .changed:
                // Watch new partitions before waking anyone: whatever a woken fetch misses
                // after this point, the new watch sees.
                watcher.watchNewPartitions()
                notifyChange()
            case .woken:
                if state.withLock({ $0.stopped }) { return }
            case .timedOut, .interrupted:
                continue
            }
        }
    }
}
