import PostgresSource

/// The seam between the runner and the database for snapshots: what reads chunks and writes
/// into the stream. `PostgresSnapshotReader` implements it over an ordinary connection; the
/// runner's tests script it.
public protocol SnapshotReader: AnyObject {
    /// The table's columns and primary key. Throws `.snapshot` when it cannot be snapshotted
    /// (no primary key, gone), anything else when the database could not be asked.
    func describe(_ table: TableName) throws(PipelineError) -> SnapshotTable
    /// Writes the low watermark `watermark` into the stream, reads at most `limit` rows of
    /// `table` after the key `after` (nil: from the first) in key order, matching `filter`,
    /// then writes the high watermark.
    func readChunk(_ table: SnapshotTable, after: [String?]?, filter: String?, limit: Int, watermark: String) throws(PipelineError) -> SnapshotChunk
    /// Writes `request` into the stream.
    func request(_ request: SnapshotRequest) throws(PipelineError)
    /// About how many rows the table holds (the planner's estimate), for progress lines.
    func estimatedRows(_ table: TableName) -> Int64?
}
