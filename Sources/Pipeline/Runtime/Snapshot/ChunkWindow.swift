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

/// What one read of a chunk asks: the rows of `table` after the key `after` up to `through`
/// (inclusive; nil: no bound) in key order, matching `filter`, at most `limit`; read between
/// the low and the high watermark named `watermark`.
public struct ChunkRead: Sendable, Equatable {
    public var table: SnapshotTable
    public var after: [String?]?
    public var through: [String?]?
    public var filter: String?
    public var limit: Int
    public var watermark: String

    public init(table: SnapshotTable, after: [String?]?, through: [String?]?, filter: String?, limit: Int, watermark: String) {
        self.table = table
        self.after = after
        self.through = through
        self.filter = filter
        self.limit = limit
        self.watermark = watermark
    }
}

/// A chunk read between its watermarks: the next rows of its key range, in key order.
public struct SnapshotChunk: Sendable {
    public var watermark: String
    public var table: SnapshotTable
    public var rows: [TupleData]
    /// The read asked for this many rows: fewer means its key range has no more.
    public var limit: Int

    public init(watermark: String, table: SnapshotTable, rows: [TupleData], limit: Int) {
        self.watermark = watermark
        self.table = table
        self.rows = rows
        self.limit = limit
    }

    public var isLastOfRange: Bool { rows.count < limit }

    /// The last key the chunk read (where the next chunk of its range starts), nil for an empty chunk.
    var lastKey: [String?]? { rows.last.flatMap { table.key(of: $0) } }
}

/// The merge of one chunk with the stream (DBLog's watermark algorithm), as a value: opened at
/// the chunk's low watermark, it notes by key the stream's changes of the chunk's table until
/// the high watermark, where the chunk's rows are emitted except those keys — the streamed
/// change is newer than the row read, or as new, and it has already been emitted in its place
/// in the stream, so dropping the row keeps the output a consistent history. Several windows
/// may be open at once (chunks read in parallel): each is its own chunk's, and knows nothing of
/// the others, which is enough since their key ranges never overlap.
struct ChunkWindow {
    let table: SnapshotTable
    private var changedKeys: Set<[String?]> = []
    /// A TRUNCATE of the table inside the window: every row read is gone.
    private var truncated = false
    /// Changes of the table arrived that could not be told apart by key (a large transaction
    /// whose changes went through the stages before it committed): the chunk must be read again.
    private(set) var mustReadAgain = false

    /// At the low watermark.
    init(table: SnapshotTable) { self.table = table }

    /// A change from the stream, in stream order.
    mutating func note(_ change: SourceChange) {
        if change.operation == .truncate {
            if change.truncatedRelations.contains(where: { $0.namespace == table.name.schema && $0.name == table.name.name }) {
                truncated = true
            }
            return
        }
        guard change.table == table.name else { return }
        var noted = false
        for tuple in [change.newTuple, change.oldTuple?.tuple] {
            guard let tuple, let key = SnapshotTable.key(of: tuple, columns: change.relation.columns, keyColumns: table.keyColumns) else { continue }
            changedKeys.insert(key)
            noted = true
        }
        // An update that left the key alone sends no old key (replica identity default) and
        // may leave a TOASTed key column out: without its key the row cannot be matched.
        if !noted { mustReadAgain = true }
    }

    /// Changes went by inside the window without their keys (see `mustReadAgain`).
    mutating func changesWithoutKeys() { mustReadAgain = true }

    /// At the high watermark: the rows of `chunk` to emit, in key order.
    func rowsToEmit(_ chunk: SnapshotChunk) -> [TupleData] {
        if truncated { return [] }
        if changedKeys.isEmpty { return chunk.rows }
        return chunk.rows.filter { row in chunk.table.key(of: row).map { !changedKeys.contains($0) } ?? true }
    }
}
