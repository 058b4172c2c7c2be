/// Which records a reader sees, as Kafka defines the two levels.
public enum IsolationLevel: String, Sendable, CaseIterable {
    /// Everything written, including open and aborted transactions (never control batches).
    case readUncommitted = "read_uncommitted"
    /// Stops at the last stable offset and drops batches of aborted transactions.
    case readCommitted = "read_committed"
}
