import Foundation
import PGOutput
import PostgresSource
import SegmentLog

/// Where an event came from: its source transaction and change.
public struct EventOrigin: Sendable, Hashable {
    /// The commit LSN of the source transaction: what `outflow.lsn` carries.
    public var commitLSN: LSN
    public var xid: UInt32
    public var commitTime: PostgresTimestamp
    public var table: TableName
    public var operation: SourceChange.Operation
    /// Position of the change in its transaction: with `commitLSN` it orders events exactly.
    public var sequence: Int
    /// A row a snapshot read (Debezium's `op: "r"`), rather than a change; nil for changes.
    public var snapshot: SnapshotMark? = nil

    public init(commitLSN: LSN, xid: UInt32, commitTime: PostgresTimestamp, table: TableName, operation: SourceChange.Operation, sequence: Int) {
        self.commitLSN = commitLSN
        self.xid = xid
        self.commitTime = commitTime
        self.table = table
        self.operation = operation
        self.sequence = sequence
    }

    /// The source transaction's commit, what a record's position headers and timestamp name.
    var commit: SourceCommit { SourceCommit(lsn: commitLSN, xid: xid, time: commitTime) }

    /// The origin of a change of streamed transaction `xid` staged before it commits: commit
    /// LSN 0/0 (no commit has it) and time zero until then.
    static func uncommitted(xid: UInt32, change: SourceChange) -> EventOrigin {
        EventOrigin(commitLSN: .zero, xid: xid, commitTime: PostgresTimestamp(rawValue: 0), table: change.table, operation: change.operation, sequence: change.sequence)
    }

    /// False for an event staged before its streamed transaction committed.
    public var isCommitKnown: Bool { commitLSN != .zero }

    /// The commit LSN for messages, or what stands in for it before the commit.
    var positionText: String { isCommitKnown ? commitLSN.description : "streamed transaction \(xid), not yet committed" }
}

/// A source transaction's commit: its LSN, xid and time.
public struct SourceCommit: Equatable, Sendable {
    var lsn: LSN
    var xid: UInt32
    var time: PostgresTimestamp
}

/// What flows between stages: a record in the making (topic, key, value, headers) with the
/// fields expressions read, and its origin.
///
/// An event fresh from the source is a *change event*: it holds the row change itself, and
/// its fields are the row's columns under `after` / `before`. The outbox stage turns change
/// events into records; a change event that reaches the sink unchanged becomes a
/// Debezium-style envelope.
public struct PipelineEvent: Sendable {
    /// The event's parts live in one copy-on-write box: an event is copied at every edge of
    /// the stage graph and into the sink, and copying ten fields, each holding references,
    /// cost more than any stage's own work (docs/performance.md).
    private final class Storage: @unchecked Sendable {
        var origin: EventOrigin
        var change: SourceChange?
        var topic: String?
        var key: [UInt8]?
        var value: [UInt8]?
        var headers: [RecordHeader] = []
        var fields: [String: EventValue] = [:]
        var valueField: String?
        var rows: DecodedRows?
        var rowFields: RowFields?

        init(origin: EventOrigin, change: SourceChange?) {
            self.origin = origin
            self.change = change
        }

        func copy() -> Storage {
            let copy = Storage(origin: origin, change: change)
            copy.topic = topic
            copy.key = key
            copy.value = value
            copy.headers = headers
            copy.fields = fields
            copy.valueField = valueField
            copy.rows = rows
            copy.rowFields = rowFields
            return copy
        }
    }

    private var storage: Storage

    /// Before a change: a box another copy of the event shares is copied first.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    public var origin: EventOrigin {
        get { storage.origin }
        _modify { yield &unique().origin }
    }
    public var change: SourceChange? {
        get { storage.change }
        _modify { yield &unique().change }
    }
    public var topic: String? {
        get { storage.topic }
        _modify { yield &unique().topic }
    }
    public var key: [UInt8]? {
        get { storage.key }
        _modify { yield &unique().key }
    }
    public var value: [UInt8]? {
        get { storage.value }
        _modify { yield &unique().value }
    }
    public var headers: [RecordHeader] {
        get { storage.headers }
        _modify { yield &unique().headers }
    }
    /// Fields for expressions, by top-level name (`payload`, `id`, `aggregatetype`, …).
    public var fields: [String: EventValue] {
        get { storage.fields }
        _modify { yield &unique().fields }
    }
    /// The field whose JSON is the record value (the outbox payload): a stage that changes it
    /// changes the value.
    public var valueField: String? {
        get { storage.valueField }
        _modify { yield &unique().valueField }
    }
    /// A change event's rows decoded by column type (table CDC); nil when no stage needs them.
    public var rows: DecodedRows? {
        get { storage.rows }
        _modify { yield &unique().rows }
    }
    /// Fields read from a row only when an expression asks for them (the outbox stage's
    /// columns): most pipelines never look at them, and building them — above all parsing every
    /// JSON payload — was the largest cost of a drain (docs/performance.md). `fields` wins.
    public var rowFields: RowFields? {
        get { storage.rowFields }
        _modify { yield &unique().rowFields }
    }

    /// A row's columns as fields: text columns as strings, NULL as null, and one column that
    /// holds valid JSON (json or jsonb: the server checked it) parsed when read.
    public struct RowFields: Sendable {
        public var relation: PGOutputMessage.Relation
        public var tuple: TupleData
        public var jsonColumn: Int?
        /// Columns that are not fields (set in `fields` instead).
        public var excluded: Set<Int>

        public init(relation: PGOutputMessage.Relation, tuple: TupleData, jsonColumn: Int?, excluded: Set<Int> = []) {
            self.relation = relation
            self.tuple = tuple
            self.jsonColumn = jsonColumn
            self.excluded = excluded
        }

        func value(at index: Int) -> EventValue? {
            guard index < tuple.columns.count, !excluded.contains(index) else { return nil }
            switch tuple.columns[index] {
            case .text(let bytes):
                if index == jsonColumn { return (try? JSONValueParser.parse(Array(bytes))) ?? .string(String(decoding: bytes, as: UTF8.self)) }
                return .string(String(decoding: bytes, as: UTF8.self))
            case .null: return .null
            default: return nil
            }
        }

        public func value(named name: String) -> EventValue? {
            guard let index = relation.columns.firstIndex(where: { $0.name == name }) else { return nil }
            return value(at: index)
        }

        public var all: [String: EventValue] {
            var members: [String: EventValue] = [:]
            for (index, column) in relation.columns.enumerated() {
                if let value = value(at: index) { members[column.name] = value }
            }
            return members
        }
    }

    /// A field by top-level name: `fields`, else the row's.
    public func field(_ name: String) -> EventValue? {
        fields[name] ?? rowFields?.value(named: name)
    }

    /// Moves the row's fields into `fields` (before a stage writes fields).
    public mutating func materializeRowFields() {
        guard let row = rowFields else { return }
        rowFields = nil
        fields.merge(row.all) { current, _ in current }
    }

    public init(origin: EventOrigin, change: SourceChange? = nil) {
        storage = Storage(origin: origin, change: change)
    }

    public func header(_ name: String) -> [UInt8]? {
        headers.last(where: { $0.key == name })?.value
    }

    /// This event as a dead letter: its key, value (or, for a change no stage turned into a
    /// record, the row) and headers, plus headers naming the stage, the error and the table.
    func deadLetter(topic: String, stage: String, reason: String) -> PipelineEvent {
        var letter = PipelineEvent(origin: origin, change: change)
        letter.topic = topic
        letter.key = key
        if let value {
            letter.value = value
        } else if let change {
            letter.value = Array(Self.columns(of: change, old: change.operation == .delete).jsonText.utf8)
        }
        letter.headers = headers
        letter.setHeader("outflow.stage", Array(stage.utf8))
        letter.setHeader("outflow.error", Array(reason.utf8))
        letter.setHeader("outflow.table", Array(origin.table.description.utf8))
        return letter
    }

    public mutating func setHeader(_ name: String, _ value: [UInt8]?) {
        headers.removeAll { $0.key == name }
        headers.append(RecordHeader(key: name, value: value))
    }
}

extension PipelineEvent: EventView {
    public func value(at path: FieldPath) -> EventValue? {
        var current: EventValue
        switch path.segments[0] {
        case .name("headers") where field("headers") == nil:
            var members: [String: EventValue] = [:]
            for header in headers { members[header.key] = header.value.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null }
            current = .object(members)
        case .name(let name):
            if let field = field(name) {
                current = field
            } else if let rows, name == "after" || name == "before" {
                current = (name == "after" ? rows.after : rows.before).map(DecodedRows.eventValue(of:)) ?? .null
            } else if let change, name == "after" || name == "before" {
                current = Self.columns(of: change, old: name == "before")
            } else {
                return nil
            }
        case .index:
            return nil
        }
        return current.value(at: path, from: 1)
    }

    public func metadata(_ field: MetadataField) -> EventValue {
        switch field {
        case .lsn: .string(origin.commitLSN.description)
        case .xid: .int(Int64(origin.xid))
        case .table: .string(origin.table.description)
        case .op: .string(origin.snapshot != nil ? "read" : origin.operation.rawValue)
        case .commitTimestamp: .string(origin.commitTime.iso8601UTC)
        case .topic: topic.map { .string($0) } ?? .null
        case .key: key.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
        }
    }

    /// A change's row as an object of column texts (nil for NULL).
    static func columns(of change: SourceChange, old: Bool) -> EventValue {
        guard let tuple = old ? change.oldTuple?.tuple : change.newTuple else { return .null }
        var members: [String: EventValue] = [:]
        for (column, value) in zip(change.relation.columns, tuple.columns) {
            switch value {
            case .null: members[column.name] = .null
            case .unchangedToast: continue
            case .text(let bytes), .binary(let bytes): members[column.name] = .string(String(decoding: bytes, as: UTF8.self))
            }
        }
        return .object(members)
    }
}

/// A change's old and new row, decoded by column type.
public struct DecodedRows: Sendable {
    public var before: [(name: String, value: PGValue)]?
    public var after: [(name: String, value: PGValue)]?

    public init(before: [(name: String, value: PGValue)]?, after: [(name: String, value: PGValue)]?) {
        self.before = before
        self.after = after
    }

    /// A row as an object for expressions. Values take their JSON form (as in the envelope)
    /// except numerics, which become exact decimals so they compare as numbers.
    static func eventValue(of row: [(name: String, value: PGValue)]) -> EventValue {
        var members: [String: EventValue] = [:]
        for (name, value) in row { members[name] = eventValue(of: value) }
        return .object(members)
    }

    static func eventValue(of value: PGValue) -> EventValue {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .int(number)
        case .text(let text): return .string(text)
        case .numeric(let numeric):
            // Decimal holds 38 significant digits: more would not be exact.
            let digits = numeric.text.drop { $0 == "-" || $0 == "0" || $0 == "." }.filter(\.isNumber).count
            if numeric.isFinite, digits <= 38, let decimal = Decimal(string: numeric.text, locale: Locale(identifier: "en_US_POSIX")) {
                return .decimal(decimal)
            }
            return .string(numeric.text)
        default:
            return (try? JSONValueParser.parse(value.jsonFragment)) ?? .string(value.jsonFragment)
        }
    }
}
