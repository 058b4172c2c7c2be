import Foundation
import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog

/// A table `public.items (id int PRIMARY KEY, name text)` and the stream of its changes, in
/// memory: a write is applied to the table and its transaction appended to the stream at
/// once, as a commit is. Read as a `SnapshotReader`, it writes the watermarks into the same
/// stream around its SELECT, and lets a test write between them (`during`). Its chunk readers
/// are itself, run on the pipeline's thread (`readsConcurrently` is false), so a test is
/// deterministic; it is never touched from another thread, hence `@unchecked Sendable`.
final class SnapshotTestDatabase: SnapshotReader, SnapshotChunkReader, @unchecked Sendable {
    enum Write {
        case upsert(Int, String)
        case delete(Int)
        case truncate
        /// An update whose key column was not sent (an unchanged TOASTed key): it cannot be
        /// matched to a row read.
        case updateWithoutKey(Int, String)
    }

    /// When, around a chunk's SELECT, a test's writes commit.
    enum Moment { case beforeLow, afterLow, afterSelect, afterHigh }

    static let name = TableName(schema: "public", name: "items")
    static let relation = PGOutputMessage.Relation(
        relationID: 42, namespace: "public", name: "items", replicaIdentity: .default,
        columns: [.init(flags: .key, name: "id", typeOID: 23), .init(name: "name", typeOID: 25)])

    private(set) var rows: [Int: String] = [:]
    private(set) var stream: [SourceEvent] = []
    private var lsn: UInt64 = 1000
    private var xid: UInt32 = 500
    /// Chunks read so far (every read, also one read again).
    private(set) var chunksRead = 0
    /// Writes to commit around the n-th chunk read.
    var during: [Int: [Moment: [Write]]] = [:]
    /// The keys each read started after.
    private(set) var readsAfter: [Int?] = []
    /// Each read's key bounds: after (exclusive), through (inclusive).
    private(set) var reads: [(after: Int?, through: Int?)] = []
    /// Time a read takes, on `clock` (a SELECT is not instant).
    var readCost: (clock: ManualClock, duration: Duration)?

    init(rows: [Int: String]) { self.rows = rows }

    func write(_ writes: [Write]) {
        guard !writes.isEmpty else { return }
        var changes: [SourceChange] = []
        for write in writes {
            let sequence = changes.count
            switch write {
            case .upsert(let id, let name):
                let existed = rows[id] != nil
                rows[id] = name
                changes.append(SourceChange(
                    operation: existed ? .update : .insert, xid: xid, lsn: LSN(lsn), sequence: sequence, relation: Self.relation,
                    newTuple: TupleData([.text(ArraySlice("\(id)".utf8)), .text(ArraySlice(name.utf8))])))
            case .delete(let id):
                rows[id] = nil
                changes.append(SourceChange(
                    operation: .delete, xid: xid, lsn: LSN(lsn), sequence: sequence, relation: Self.relation,
                    oldTuple: .key(TupleData([.text(ArraySlice("\(id)".utf8)), .null]))))
            case .updateWithoutKey(let id, let name):
                rows[id] = name
                changes.append(SourceChange(
                    operation: .update, xid: xid, lsn: LSN(lsn), sequence: sequence, relation: Self.relation,
                    newTuple: TupleData([.unchangedToast, .text(ArraySlice(name.utf8))])))
            case .truncate:
                rows = [:]
                changes.append(SourceChange(operation: .truncate, xid: xid, lsn: LSN(lsn), sequence: sequence, relation: Self.relation, truncatedRelations: [Self.relation]))
            }
        }
        transaction(changes.map { .change($0) })
    }

    func message(_ message: SnapshotMessage) {
        transaction([.message(SourceMessage(xid: xid, lsn: LSN(lsn), isTransactional: true, prefix: message.prefix, content: ArraySlice(message.content.utf8)))])
    }

    private func transaction(_ events: [SourceEvent]) {
        let time = PostgresTimestamp(rawValue: Int64(xid) * 1000)
        let commitLSN = LSN(lsn + 10)
        stream.append(.begin(TransactionBegin(xid: xid, commitLSN: commitLSN, commitTime: time)))
        stream += events
        stream.append(.commit(TransactionCommit(xid: xid, commitLSN: commitLSN, endLSN: LSN(lsn + 20), commitTime: time)))
        lsn += 100
        xid += 1
    }

    func describe(_ table: TableName) throws(PipelineError) -> SnapshotTable {
        guard table == Self.name else { throw PipelineError(.snapshot, "no table \(table)") }
        return SnapshotTable(name: table, relation: Self.relation, keyColumns: ["id"])
    }

    func splitKeys(_ table: SnapshotTable, parts: Int) throws(PipelineError) -> [[String?]] {
        let keys = rows.keys.sorted()
        var split: [[String?]] = []
        for part in 1..<max(1, parts) {
            let index = keys.count * part / parts
            guard index > 0, index < keys.count, split.last != ["\(keys[index])"] else { continue }
            split.append(["\(keys[index])"])
        }
        return split
    }

    func chunkReader() -> any SnapshotChunkReader { self }

    var readsConcurrently: Bool { false }

    func readChunk(_ read: ChunkRead, deliver: (SnapshotChunk) -> Void) throws(PipelineError) {
        let moments = during[chunksRead] ?? [:]
        chunksRead += 1
        if let readCost { readCost.clock.advance(by: readCost.duration) }
        func bound(_ key: [String?]?) -> Int? { key.flatMap { $0.first.flatMap { $0.flatMap { Int($0) } } } }
        let start = bound(read.after), end = bound(read.through)
        readsAfter.append(start)
        reads.append((start, end))
        write(moments[.beforeLow] ?? [])
        message(.watermark(SnapshotWatermark(chunk: read.watermark, kind: .low, table: read.table.name)))
        write(moments[.afterLow] ?? [])
        let selected = rows.keys.sorted().filter { $0 > (start ?? Int.min) && $0 <= (end ?? Int.max) }.prefix(read.limit).map { id in
            TupleData([.text(ArraySlice("\(id)".utf8)), .text(ArraySlice(rows[id]!.utf8))])
        }
        write(moments[.afterSelect] ?? [])
        deliver(SnapshotChunk(watermark: read.watermark, table: read.table, rows: Array(selected), limit: read.limit))
        message(.watermark(SnapshotWatermark(chunk: read.watermark, kind: .high, table: read.table.name)))
        write(moments[.afterHigh] ?? [])
    }

    func request(_ request: SnapshotRequest) throws(PipelineError) { message(.request(request)) }

    func estimatedRows(_ table: TableName) -> Int64? { Int64(rows.count) }
}

/// The database's stream as a source: what is there is handed over at once; when nothing is,
/// a read waits its timeout on the manual clock.
final class StreamSource: ChangeSource {
    let database: SnapshotTestDatabase
    let clock: ManualClock
    private(set) var consumed = 0

    init(_ database: SnapshotTestDatabase, clock: ManualClock, from start: Int = 0) {
        self.database = database
        self.clock = clock
        consumed = start
    }

    func next(timeout: Duration) throws(PipelineError) -> SourceEvent? {
        guard consumed < database.stream.count else {
            clock.advance(by: timeout)
            return nil
        }
        defer { consumed += 1 }
        return database.stream[consumed]
    }

    var isExhausted: Bool { false }
    func acknowledge(durable position: LSN) {}
    func sendAcknowledgements() throws(PipelineError) {}
}

/// One record of the log as a test reads it.
struct LoggedRecord {
    var topic: String
    var key: String
    var value: [String: Any]
    var headers: [String: String]

    var op: String? { value["op"] as? String }
    var id: Int? { (value["after"] as? [String: Any])?["id"] as? Int ?? (value["before"] as? [String: Any])?["id"] as? Int }
    var name: String? { (value["after"] as? [String: Any])?["name"] as? String }
    var snapshotMark: String? { (value["source"] as? [String: Any])?["snapshot"] as? String }
}

enum SnapshotLog {
    /// Every committed record, in log order per partition (one partition here).
    static func records(in directory: String) throws -> [LoggedRecord] {
        let reader = try LogReader(directory: directory)
        var result: [LoggedRecord] = []
        for partition in try reader.partitions().sorted() {
            let partitionReader = try reader.open(partition, isolation: .readCommitted)
            while true {
                let batch = try partitionReader.poll(maxRecords: 1000)
                if batch.isEmpty { break }
                for stored in batch {
                    let value = try stored.value.map { try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] ?? [:] } ?? [:]
                    var headers: [String: String] = [:]
                    for header in stored.headers { headers[header.key] = header.value.map { String(decoding: $0, as: UTF8.self) } }
                    result.append(LoggedRecord(
                        topic: partition.topic, key: stored.key.map { String(decoding: $0, as: UTF8.self) } ?? "", value: value, headers: headers))
                }
            }
        }
        return result
    }

    /// The table as the log's history leaves it: each key's last record (a read, create or
    /// update sets the row; a delete removes it).
    static func finalState(_ records: [LoggedRecord]) -> [Int: String] {
        var state: [Int: String] = [:]
        for record in records where record.topic == "test.public.items" {
            if record.op == "t" { state = [:] }
            guard let id = record.id else { continue }
            if record.op == "d" { state[id] = nil } else { state[id] = record.name }
        }
        return state
    }
}
