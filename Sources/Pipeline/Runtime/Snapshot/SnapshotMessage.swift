import PostgresSource

/// The logical messages snapshots travel by in the source's own stream. Each is written with
/// `pg_logical_emit_message(true, prefix, content)` as a transaction of its own, so it reaches
/// the pipeline in commit order with every other change — which is what orders a chunk's rows
/// against the stream (the watermarks) and a backfill request against the changes around it.
/// The content is a small JSON object.
public enum SnapshotMessage: Equatable, Sendable {
    case request(SnapshotRequest)
    case watermark(SnapshotWatermark)

    public static let requestPrefix = "outflow.snapshot.request"
    public static let watermarkPrefix = "outflow.snapshot"

    public var prefix: String {
        switch self {
        case .request: Self.requestPrefix
        case .watermark: Self.watermarkPrefix
        }
    }

    /// The message's content (JSON text).
    public var content: String {
        switch self {
        case .request(let request):
            var members: [String: EventValue] = [
                "id": .string(request.id), "slot": .string(request.slot), "tables": .array(request.tables.map { .string($0.description) }),
            ]
            if let filter = request.filter { members["where"] = .string(filter) }
            return EventValue.object(members).jsonText
        case .watermark(let watermark):
            return EventValue.object([
                "chunk": .string(watermark.chunk), "kind": .string(watermark.kind.rawValue), "table": .string(watermark.table.description),
            ]).jsonText
        }
    }

    /// The snapshot message a logical message holds; nil for a message of another prefix.
    public init?(prefix: String, content: some Collection<UInt8>) throws(SnapshotMessageError) {
        guard prefix == Self.requestPrefix || prefix == Self.watermarkPrefix else { return nil }
        let object: [String: EventValue]
        do {
            guard case .object(let members) = try JSONValueParser.parse(content) else { throw SnapshotMessageError(prefix: prefix, reason: "not a JSON object") }
            object = members
        } catch let error as SnapshotMessageError {
            throw error
        } catch {
            throw SnapshotMessageError(prefix: prefix, reason: "\(error)")
        }
        func text(_ key: String) throws(SnapshotMessageError) -> String {
            guard case .string(let value)? = object[key] else { throw SnapshotMessageError(prefix: prefix, reason: "no \"\(key)\" string") }
            return value
        }
        func table(_ text: String) throws(SnapshotMessageError) -> TableName {
            guard let name = TableName(text) else { throw SnapshotMessageError(prefix: prefix, reason: "\"\(text)\" is not schema.table") }
            return name
        }
        if prefix == Self.requestPrefix {
            guard case .array(let names)? = object["tables"] else { throw SnapshotMessageError(prefix: prefix, reason: "no \"tables\" array") }
            var tables: [TableName] = []
            for name in names {
                guard case .string(let text) = name else { throw SnapshotMessageError(prefix: prefix, reason: "a table name is not a string") }
                tables.append(try table(text))
            }
            var filter: String?
            if object["where"] != nil { filter = try text("where") }
            self = .request(SnapshotRequest(id: try text("id"), slot: try text("slot"), tables: tables, filter: filter))
        } else {
            guard let kind = SnapshotWatermark.Kind(rawValue: try text("kind")) else {
                throw SnapshotMessageError(prefix: prefix, reason: "\"kind\" is neither low nor high")
            }
            self = .watermark(SnapshotWatermark(chunk: try text("chunk"), kind: kind, table: try table(try text("table"))))
        }
    }
}

/// Asks the pipeline streaming from `slot` to snapshot `tables` (empty: every captured table
/// that is not an outbox), optionally only the rows matching `filter` (an SQL condition).
public struct SnapshotRequest: Equatable, Sendable {
    public var id: String
    public var slot: String
    public var tables: [TableName]
    public var filter: String?

    public init(id: String, slot: String, tables: [TableName], filter: String? = nil) {
        self.id = id
        self.slot = slot
        self.tables = tables
        self.filter = filter
    }
}

/// One side of a chunk's window: written just before (low) and just after (high) the chunk's
/// SELECT, on the same connection.
public struct SnapshotWatermark: Equatable, Sendable {
    public enum Kind: String, Sendable { case low, high }
    /// Names one read of one chunk: a chunk read again after a crash has a new one, so
    /// watermarks of an earlier read that the stream sends again are told apart.
    public var chunk: String
    public var kind: Kind
    public var table: TableName

    public init(chunk: String, kind: Kind, table: TableName) {
        self.chunk = chunk
        self.kind = kind
        self.table = table
    }
}

public struct SnapshotMessageError: Error, Sendable, CustomStringConvertible {
    public var prefix: String
    public var reason: String
    public var description: String { "a logical message with prefix \(prefix) is not a snapshot message Outflow can read: \(reason)" }
}
