import Synchronization

/// How many record bytes a Fetch may read: the least of what the client asked for, the
/// endpoint's bound on one response (one per connection at a time, so also the bound per
/// connection), and what is left of the bound over all connections. It may be zero: the
/// response then carries the first batch alone, since Kafka's rule (KIP-74) is that a fetch
/// always returns the first batch whatever the limits, so that a consumer progresses.
struct FetchBudget: Sendable, Hashable {
    /// The most one Fetch response carries (Kafka's broker `fetch.max.bytes`).
    var perResponse: Int
    /// The most that responses read and not yet written to their sockets hold, together.
    var inFlight: Int

    func grant(requested: Int32, inUse: Int) -> Int {
        max(0, min(Int(max(0, requested)), perResponse, inFlight - inUse))
    }
}

/// The record bytes of Fetch responses held in memory, over all connections: from the read
/// until the response is written to its socket (or dropped).
final class FetchMemory: Sendable {
    let budget: FetchBudget
    private let used = Atomic<Int>(0)

    init(budget: FetchBudget) { self.budget = budget }

    var inUse: Int { used.load(ordering: .relaxed) }

    /// Takes what `budget` grants a fetch that asked for `requested` bytes.
    func reserve(requested: Int32) -> FetchReservation {
        var current = used.load(ordering: .relaxed)
        while true {
            let granted = budget.grant(requested: requested, inUse: current)
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + granted, ordering: .relaxed)
            if exchanged { return FetchReservation(memory: self, bytes: granted) }
            current = original
        }
    }

    fileprivate func add(_ bytes: Int) { used.add(bytes, ordering: .relaxed) }
}

/// Bytes a fetch holds of `FetchMemory`, released once; `resize` makes it what the response
/// holds, which may exceed the grant by the one batch that always goes.
struct FetchReservation: Sendable {
    let memory: FetchMemory
    private(set) var bytes: Int

    fileprivate init(memory: FetchMemory, bytes: Int) {
        self.memory = memory
        self.bytes = bytes
    }

    var granted: Int { bytes }

    mutating func resize(to actual: Int) {
        memory.add(actual - bytes)
        bytes = actual
    }

    func release() { memory.add(-bytes) }
}
