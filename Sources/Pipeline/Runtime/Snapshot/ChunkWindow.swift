import PGOutput
import PostgresSource

/// A table as a snapshot reads it: its columns as a Relation message would describe them (what
/// the stream's changes and the row decoder use), and its primary key.
public struct SnapshotTable: Sendable, Equatable {
    public var name: TableName
    /// The columns pgoutput would send, in order; the primary key's columns flagged as key.
    public var relation: PGOutputMessage.Relation
    /// The primary key's columns, in the key's order.
    public var keyColumns: [String]

    public init(name: TableName, relation: PGOutputMessage.Relation, keyColumns: [String]) {
        self.name = name
        self.relation = relation
        self.keyColumns = keyColumns
    }

    /// The key of a row of this table's own columns (a chunk's row).
    func key(of row: TupleData) -> [String?]? {
        Self.key(of: row, columns: relation.columns, keyColumns: keyColumns)
    }

    /// The key columns' texts of `tuple`, whose columns are `columns`; nil when one is missing
    /// or was not sent (an unchanged TOAST value).
    static func key(of tuple: TupleData, columns: [PGOutputMessage.Relation.Column], keyColumns: [String]) -> [String?]? {
        var key: [String?] = []
        key.reserveCapacity(keyColumns.count)
        for name in keyColumns {
            guard let index = columns.firstIndex(where: { $0.name == name }), index < tuple.columns.count else { return nil }
            switch tuple.columns[index] {
            case .null: key.append(nil)
            case .text(let bytes), .binary(let bytes): key.append(String(decoding: bytes, as: UTF8.self))
            case .unchangedToast: return nil
            }
        }
        return key
    }
}

/// A chunk read between its watermarks: the table's next rows in key order.
public struct SnapshotChunk: Sendable {
    public var watermark: String
    public var table: SnapshotTable
    public var rows: [TupleData]
    /// The read asked for this many rows: fewer means the table has no more.
    public var limit: Int

    public init(watermark: String, table: SnapshotTable, rows: [TupleData], limit: Int) {
        self.watermark = watermark
        self.table = table
        self.rows = rows
        self.limit = limit
    }

    public var isLastOfTable: Bool { rows.count < limit }
}

/// The merge of one chunk with the stream (DBLog's watermark algorithm), as a value: the
/// stream's changes of the chunk's table between the low and the high watermark are noted
/// by key, and at the high watermark the chunk's rows are emitted except those keys — the
/// streamed change is newer than the row read, or as new, and it has already been emitted
/// in its place in the stream, so dropping the row keeps the output a consistent history.
struct ChunkWindow {
    enum State: Equatable {
        /// The chunk was read; its low watermark is not in the stream yet.
        case awaitingLow
        /// Between the watermarks: changes of the table are noted.
        case open
    }

    let chunk: SnapshotChunk
    private(set) var state = State.awaitingLow
    private var changedKeys: Set<[String?]> = []
    /// A TRUNCATE of the table inside the window: every row read is gone.
    private var truncated = false
    /// Changes of the table arrived that could not be told apart by key (a large transaction
    /// whose changes went through the stages before it committed): the chunk must be read again.
    private(set) var mustReadAgain = false

    init(_ chunk: SnapshotChunk) { self.chunk = chunk }

    mutating func lowWatermark() { state = .open }

    /// A change from the stream, in stream order.
    mutating func note(_ change: SourceChange) {
        guard state == .open else { return }
        if change.operation == .truncate {
            if change.truncatedRelations.contains(where: { $0.namespace == chunk.table.name.schema && $0.name == chunk.table.name.name }) {
                truncated = true
            }
            return
        }
        guard change.table == chunk.table.name else { return }
        var noted = false
        for tuple in [change.newTuple, change.oldTuple?.tuple] {
            guard let tuple, let key = SnapshotTable.key(of: tuple, columns: change.relation.columns, keyColumns: chunk.table.keyColumns) else { continue }
            changedKeys.insert(key)
            noted = true
        }
        // An update that left the key alone sends no old key (replica identity default) and
        // may leave a TOASTed key column out: without its key the row cannot be matched.
        if !noted { mustReadAgain = true }
    }

    /// Changes went by inside the window without their keys (see `mustReadAgain`).
    mutating func changesWithoutKeys() {
        if state == .open { mustReadAgain = true }
    }

    /// At the high watermark: the rows to emit, in key order.
    func rowsToEmit() -> [TupleData] {
        if truncated { return [] }
        if changedKeys.isEmpty { return chunk.rows }
        return chunk.rows.filter { row in chunk.table.key(of: row).map { !changedKeys.contains($0) } ?? true }
    }

    /// The last key the chunk read (where the next chunk starts), nil for an empty chunk.
    var lastKey: [String?]? { chunk.rows.last.flatMap { chunk.table.key(of: $0) } }
}
