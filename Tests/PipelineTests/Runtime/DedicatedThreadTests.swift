import Foundation
import Testing
import Synchronization
@testable import Pipeline

/// `DedicatedThread.run` returns only once its thread has ended, thread-local cleanup included:
/// a process that exits right after (a clean stop) must not tear the runtime down under it.
struct DedicatedThreadTests {
    /// Kept in the thread's dictionary, as the log's zstd contexts are; records its deinit.
    final class ThreadLocalResource {
        let flag: Flag
        init(flag: Flag) { self.flag = flag }
        deinit {
            // Widens the window in which a caller resumed from inside the body would run ahead
            // of this cleanup (what the test must catch); the join waits for it either way.
            usleep(50_000)
            flag.freed.store(true, ordering: .releasing)
        }
    }

    final class Flag: Sendable {
        let freed = Atomic<Bool>(false)
    }

    @Test func returnsAfterTheThreadsLocalObjectsAreFreed() async {
        let flag = Flag()
        let result = await DedicatedThread.run { () -> Int in
            Thread.current.threadDictionary["test.resource"] = ThreadLocalResource(flag: flag)
            return 42
        }
        #expect(result == 42)
        let freedBeforeReturn = flag.freed.load(ordering: .acquiring)
        #expect(freedBeforeReturn, "the thread's cleanup had not run when run() returned")
    }
}
