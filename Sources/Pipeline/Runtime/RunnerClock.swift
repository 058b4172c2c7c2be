import BinaryIO

/// The runner's time: when now is, and how it waits. The pipeline uses the system's
/// continuous clock; the runner's tests use a clock that moves only when told, so their
/// timing does not depend on the machine's load.
public protocol RunnerClock: Sendable {
    var now: ContinuousClock.Instant { get }
    func sleep(for duration: Duration)
}

public struct SystemClock: RunnerClock {
    public init() {}
    public var now: ContinuousClock.Instant { .now }
    public func sleep(for duration: Duration) { BinaryIO.sleep(for: duration) }
}
