import Synchronization

/// Whether the pipeline is ready — started, streaming, not stalled — for `/ready`. The
/// pipeline's thread updates it; the metrics endpoint reads it from its own.
///
/// Stalled means the runner has not come round its loop for `stallAfter`: it reports at every
/// pause in the stream (at most every 200 ms) and after every commit, so a longer silence is a
/// source that is reconnecting, or a sink that does not return.
public final class PipelineHealth: Sendable {
    public enum Phase: Sendable, Equatable {
        case starting
        case streaming
        case stopping
        case stopped
        case failed(String)
    }

    struct State {
        var phase = Phase.starting
        var lastProgress: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    public let stallAfter: Duration

    public init(stallAfter: Duration = .seconds(5)) { self.stallAfter = stallAfter }

    public func set(_ phase: Phase) { state.withLock { $0.phase = phase } }

    /// The runner went round its loop (a pause or a commit).
    public func progressed(at now: ContinuousClock.Instant = .now) {
        state.withLock {
            $0.lastProgress = now
            if $0.phase == .starting { $0.phase = .streaming }
        }
    }

    /// Ready, or the reason it is not.
    public func readiness(at now: ContinuousClock.Instant = .now) -> (ready: Bool, reason: String) {
        let current = state.withLock { $0 }
        switch current.phase {
        case .starting: return (false, "starting: connecting to the source and opening the log")
        case .stopping: return (false, "stopping")
        case .stopped: return (false, "stopped")
        case .failed(let reason): return (false, "failed: \(reason)")
        case .streaming:
            guard let last = current.lastProgress else { return (false, "starting") }
            let silence = now - last
            if silence > stallAfter {
                return (false, "stalled: no progress for \(silence.components.seconds) s (the source may be reconnecting)")
            }
            return (true, "streaming")
        }
    }
}
