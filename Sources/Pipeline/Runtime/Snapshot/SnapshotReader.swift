import PostgresSource

/// The seam between the runner and the database for snapshots: what describes and splits
/// tables and writes requests into the stream. `PostgresSnapshotReader` implements it over
/// ordinary connections; the runner's tests script it.
public protocol SnapshotReader: AnyObject {
    /// The table's columns and primary key. Throws `.snapshot` when it cannot be snapshotted
    /// (no primary key, gone), anything else when the database could not be asked.
    func describe(_ table: TableName) throws(PipelineError) -> SnapshotTable
    /// At most `parts - 1` keys, ascending and distinct, that cut the table into key ranges of
    /// about as many rows each (fewer for a small table; none for an empty one).
    func splitKeys(_ table: SnapshotTable, parts: Int) throws(PipelineError) -> [[String?]]
    /// A reader of chunks with a connection of its own, for one reader lane.
    func chunkReader() -> any SnapshotChunkReader
    /// Whether chunk readers run on threads of their own (a database: yes), or one chunk at a
    /// time on the pipeline's thread between source transactions (the tests' scripted one).
    var readsConcurrently: Bool { get }
    /// Writes `request` into the stream.
    func request(_ request: SnapshotRequest) throws(PipelineError)
    /// About how many rows the table holds (the planner's estimate), for progress lines.
    func estimatedRows(_ table: TableName) -> Int64?
}

/// Reads chunks, one at a time, on a connection of its own. Used by one thread at a time.
public protocol SnapshotChunkReader: AnyObject, Sendable {
    /// Writes the low watermark `read.watermark` into the stream, reads the chunk, hands its
    /// rows to `deliver`, then writes the high watermark. The rows are delivered before the
    /// high watermark is written so that they are at hand when the stream brings it.
    func readChunk(_ read: ChunkRead, deliver: (SnapshotChunk) -> Void) throws(PipelineError)
}
