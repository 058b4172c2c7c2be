import PGOutput
import PostgresSource

/// What the runner reads: source events in stream order (Begin, changes, Commit; chunks of
/// streamed transactions; reconnects). The replication session, the changelog that replay
/// reads, and later the snapshot reader implement it.
public protocol ChangeSource: AnyObject {
    /// The next event, or nil when none arrived within `timeout` (zero: only what is there).
    func next(timeout: Duration) throws(PipelineError) -> SourceEvent?
    /// True once a finite source (the changelog) has handed over everything it holds.
    var isExhausted: Bool { get }
    /// Everything up to `position` (a Commit's end LSN) is durable in the sink: the source may
    /// release it.
    func acknowledge(durable position: LSN)
    /// Tells the source's server what was acknowledged now, not at its next status interval.
    func sendAcknowledgements() throws(PipelineError)
}
