import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread for blocking work (libpq, the log's files), awaited until it has *ended* — not
/// merely until its body returned. A thread's end still runs code: its thread-local objects
/// (the log's zstd contexts) are freed then. Resumed from inside the body, the caller could
/// return and the process exit while that cleanup ran, tearing the runtime down under it: the
/// crash campaign saw a clean stop end in glibc's "corrupted size vs. prev_size in fastbins"
/// with the pipeline on a Foundation `Thread` that did so.
public enum DedicatedThread {
    /// The body's result, written by the thread before it ends and read after the join (which
    /// orders the two).
    private final class Outcome<Result>: @unchecked Sendable {
        var result: Result?
    }

    /// What the thread's entry point (a C function: it cannot be generic) runs.
    private final class Entry {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Runs `body` on a new thread with `stackSize` bytes of stack and returns its result once
    /// the thread has ended; nil when no thread could be created (`body` did not run).
    public static func run<Result: Sendable>(stackSize: Int = 8 << 20, _ body: @escaping @Sendable () -> Result) async -> Result? {
        let outcome = Outcome<Result>()
        let entry = Entry { outcome.result = body() }
        // Allocated, not a zero value: the struct's zero initializer is not visible from here.
        let attributes = UnsafeMutablePointer<pthread_attr_t>.allocate(capacity: 1)
        pthread_attr_init(attributes)
        defer {
            pthread_attr_destroy(attributes)
            attributes.deallocate()
        }
        pthread_attr_setstacksize(attributes, stackSize)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(entry).toOpaque()
        let created = pthread_create(&thread, attributes, { context in
            Unmanaged<Entry>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Entry>.fromOpaque(context).release()
            return nil
        }
        let joinable = thread
        // The join blocks, so not on a worker of the global queues: those are as many as the
        // CPUs and Swift's own tasks run on them (two blocked joins starved every task on two
        // CPUs). A serial queue of its own is overcommitting: it gets a thread whatever else blocks.
        return await withCheckedContinuation { continuation in
            DispatchQueue(label: "outflow.thread-join").async {
                pthread_join(joinable, nil)
                continuation.resume(returning: outcome.result)
            }
        }
    }
}
