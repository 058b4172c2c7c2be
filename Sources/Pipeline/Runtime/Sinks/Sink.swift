import PGOutput
import PostgresSource
import SegmentLog

/// What the runner needs from any sink. A sink takes records in two steps — `prepare` (what
/// needs no commit: topic, partition, the record up to its position headers) and `write`
/// (completed with the source commit) — so a streamed transaction's records can be prepared
/// while it is still open. It groups writes into transactions committed atomically with a
/// checkpoint, or appends them plainly and syncs them, as the delivery guarantee asks.
///
/// The log sink implements it; the Kafka sink will. Records are Kafka records (key, value,
/// headers, timestamp) in both, which is why `PendingRecord` holds the record format.
public protocol Sink: AnyObject {
    /// Whether writes go into a transaction committed with a checkpoint (exactly-once) or are
    /// appended plainly (at-least-once, at-most-once). Set once, before the first write.
    var transactional: Bool { get set }

    /// Everything of `event`'s record that does not depend on its source transaction's commit.
    /// Throws an event error (`SinkError.isEventError`) when the event cannot become a record.
    func prepare(_ event: PipelineEvent) throws(SinkError) -> PendingRecord
    /// Completes a prepared record with its transaction's commit and adds it to the group.
    func write(_ record: PendingRecord, commit: SourceCommit) throws(SinkError)
    /// Keeps a source change in the changelog, in the same transaction as the output.
    func writeChangelog(_ change: SourceChange, origin: EventOrigin) throws(SinkError)

    /// Bytes written since the group began: bounds a group's size.
    var groupBytes: Int { get }
    /// Records written since the group began.
    var recordsInGroup: Int { get }
    /// The highest source commit LSN that reached the sink's storage (plain appends: what a
    /// reader may already see).
    var highestWritten: LSN? { get }

    /// Hands what is buffered to the storage now: plain appends become visible; transactional
    /// ones join the open transaction.
    func flush() throws(SinkError)
    /// Transactional: commits the group atomically with `checkpoint` (the commit point). False
    /// when the group wrote nothing, so no commit was needed.
    func commit(_ checkpoint: Checkpoint) throws(SinkError) -> Bool
    /// Makes everything handed to the storage durable (not what is still buffered: `flush`
    /// first), then records `position` beside it, when given, as the position to resume from.
    func sync(recording position: LSN?) throws(SinkError)
    /// Plain, without waiting for durability: the group is handed over; count the next one.
    func endGroup()
    /// Drops the open group: buffered records and the open transaction.
    func abort() throws(SinkError)

    // What the sink holds, read when the pipeline starts.
    /// The checkpoint of the newest committed transaction.
    func lastCheckpoint() throws(SinkError) -> Checkpoint?
    /// Every retained checkpoint, oldest first (stateful stages rebuild their state from them).
    func checkpointHistory() throws(SinkError) -> [Checkpoint]
    /// The position `sync(recording:)` recorded last.
    func recordedPosition() throws(SinkError) -> LSN?
    /// The highest source commit LSN of anything the sink holds, committed or not.
    func highestSourcePosition() throws(SinkError) -> LSN?
}

public struct SinkError: Error, CustomStringConvertible, @unchecked Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The event cannot become a record (no topic, an invalid topic name, a field too large):
        /// it can go to the dead letters; the sink itself is fine.
        public static let invalidEvent = Code("invalid_event")
        /// The storage failed (write, commit, sync, abort).
        public static let storage = Code("storage")
        /// What the storage holds cannot be read back (a damaged checkpoint).
        public static let unreadableState = Code("unreadable_state")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The event itself is at fault (it can go to the dead letters); otherwise the sink is.
    public var isEventError: Bool { code == .invalidEvent }
    public var description: String { message }
}

extension PipelineError {
    init(_ error: SinkError) {
        self.init(error.code == .unreadableState ? .checkpoint : .sink, error.message, underlying: error)
    }
}
