/// What an expression can read from an event. The pipeline runner implements it over its
/// event type; expressions never see the concrete type.
///
/// Lookups take a `FieldPath` built once when the expression was parsed, so evaluating an
/// expression does not build strings or arrays per lookup.
public protocol EventView {
    /// The value at `path` (`payload.amount` is the segments `payload`, `amount`), or nil when
    /// the event has no such field; expressions treat a missing field as `null`.
    func value(at path: FieldPath) -> EventValue?
    /// The value of a metadata field (`__lsn`, `__table`, …); `.null` when the event has none.
    func metadata(_ field: MetadataField) -> EventValue
}

/// A path into an event: `payload.amount`, `after.items[0]`, `headers['content-type']`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case name(String)
        case index(Int)
    }

    public let segments: [Segment]

    public init(_ segments: [Segment]) {
        precondition(!segments.isEmpty, "a field path has at least one segment")
        self.segments = segments
    }

    /// A path of plain names: `FieldPath(names: "payload", "amount")`.
    public init(names: String...) {
        self.init(names.map(Segment.name))
    }

    /// The first segment's name: `payload`, `after`, `headers`, `id`.
    public var root: String {
        if case .name(let name) = segments[0] { return name }
        return ""
    }

    /// The path in expression syntax; parsing it gives this path back. (A first segment must
    /// be a plain name, as the grammar reads it; every path the parser builds is one.)
    public var description: String {
        var text = ""
        for (position, segment) in segments.enumerated() {
            switch segment {
            case .name(let name) where position == 0:
                text += name
            case .name(let name) where ExpressionLexer.isPlainIdentifier(name):
                text += "." + name
            case .name(let name):
                text += "[" + ExpressionPrinter.quoted(name) + "]"
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }
}

/// Metadata every event carries, named with a double underscore so they cannot clash with
/// column names.
public enum MetadataField: String, Sendable, Hashable, CaseIterable {
    /// Commit LSN of the source transaction, as `X/Y` text.
    case lsn = "__lsn"
    /// Source transaction id.
    case xid = "__xid"
    /// Source table, `schema.name`.
    case table = "__table"
    /// Operation: `insert`, `update`, `delete`, `truncate`.
    case op = "__op"
    /// Commit time of the source transaction (ISO 8601 text).
    case commitTimestamp = "__commit_ts"
    /// The topic the event is going to (set by `outbox` and `route`).
    case topic = "__topic"
    /// The record key (set by `outbox` and `key`).
    case key = "__key"

    /// The fields a source transaction has only once it commits.
    public static let commitPosition: Set<MetadataField> = [.lsn, .commitTimestamp]
}
