import PGOutput

/// Decodes the columns of pgoutput tuples into typed values, by the type OIDs of their
/// Relation message. Types the built-in table does not know (enums, domains, arrays of them,
/// extension types) are looked up once in `pg_type` over an ordinary SQL connection — the
/// replication connection is busy streaming.
public final class RowDecoder {
    public private(set) var decoder: PGValueDecoder
    private let connectionString: ConnectionString?
    private var lookup: PostgresConnection?
    private var checkedRelations: [UInt32: PGOutputMessage.Relation] = [:]

    /// Without a connection string, unknown types decode as text.
    public init(connectionString: ConnectionString?) {
        self.decoder = PGValueDecoder()
        self.connectionString = connectionString
    }

    /// Makes sure every column type of `relation` is known (once per Relation message).
    public func prepare(_ relation: PGOutputMessage.Relation) throws(PostgresError) {
        if checkedRelations[relation.relationID] == relation { return }
        let unknown = Set(relation.columns.map(\.typeOID).filter { BuiltinTypeOID.name(of: $0) == nil && decoder.registry[$0] == nil })
        if !unknown.isEmpty, let connectionString {
            if lookup == nil { lookup = try PostgresConnection(connectionString, applicationName: "outflow-types") }
            try decoder.registry.load(oids: unknown.sorted(), from: lookup!)
        }
        checkedRelations[relation.relationID] = relation
    }

    /// The typed value of one column; nil for an unchanged TOAST value (not sent).
    public func value(_ column: TupleColumn, typeOID: UInt32) throws(PostgresError) -> PGValue? {
        switch column {
        case .null: return .null
        case .unchangedToast: return nil
        case .text(let bytes): return try decoder.decode(text: bytes, typeOID: typeOID)
        case .binary:
            throw PostgresError(code: .invalidValue, message: "a binary column value: Outflow streams pgoutput in text format only")
        }
    }

    /// The row as (column name, value) pairs in column order; unchanged TOAST columns are left out.
    public func row(_ tuple: TupleData, of relation: PGOutputMessage.Relation) throws(PostgresError) -> [(name: String, value: PGValue)] {
        try prepare(relation)
        var row: [(String, PGValue)] = []
        row.reserveCapacity(tuple.columns.count)
        for (column, value) in zip(relation.columns, tuple.columns) {
            if let decoded = try self.value(value, typeOID: column.typeOID) { row.append((column.name, decoded)) }
        }
        return row
    }
}

extension PostgresTimestamp {
    /// ISO 8601 in UTC, `2024-02-29T13:45:00.5Z`: the form envelopes and `__commit_ts` use.
    public var iso8601UTC: String {
        var buffer: [UInt8] = []
        JSONWriting.appendISO8601UTC(rawValue, to: &buffer)
        return String(decoding: buffer.filter { $0 != UInt8(ascii: "\"") }, as: UTF8.self)
    }
}
