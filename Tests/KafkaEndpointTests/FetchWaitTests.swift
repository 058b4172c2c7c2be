import NIOCore
import Testing
@testable import KafkaEndpoint

@Suite struct FetchWaitTests {
    let received = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func waitsUntilMinBytesOrTheDeadline() {
        let wait = FetchWait(minBytes: 100, maxWaitMs: 500, receivedAt: received)
        let deadline = received + .milliseconds(500)
        #expect(wait.next(bytesRead: 0, anyPartitionFailed: false, now: received) == .waitForChange(until: deadline))
        #expect(wait.next(bytesRead: 99, anyPartitionFailed: false, now: received + .milliseconds(499)) == .waitForChange(until: deadline))
        #expect(wait.next(bytesRead: 100, anyPartitionFailed: false, now: received) == .respond)
        #expect(wait.next(bytesRead: 0, anyPartitionFailed: false, now: deadline) == .respond)
    }

    @Test func anErrorOrNoMinimumAnswersAtOnce() {
        #expect(FetchWait(minBytes: 1, maxWaitMs: 500, receivedAt: received).next(bytesRead: 0, anyPartitionFailed: true, now: received) == .respond)
        #expect(FetchWait(minBytes: 0, maxWaitMs: 500, receivedAt: received).next(bytesRead: 0, anyPartitionFailed: false, now: received) == .respond)
        // A negative max wait is no wait.
        #expect(FetchWait(minBytes: 1, maxWaitMs: -5, receivedAt: received).next(bytesRead: 0, anyPartitionFailed: false, now: received) == .respond)
    }
}
