import Foundation

extension EventValue {
    /// Parses JSON text (a `json`/`jsonb` column, an outbox payload) keeping numbers exact:
    /// integers that fit 64 bits become `int`, every other number `decimal`, never a binary
    /// double as `JSONSerialization` would give.
    public init(json text: String) throws(EventValueJSONError) {
        self = try JSONValueParser.parse(text)
    }

    /// The value at `path` below this value, starting at segment `start` (so an `EventView`
    /// can resolve the first segment itself and hand the rest here). Nil when missing.
    /// Walks in place: no allocation.
    public func value(at path: FieldPath, from start: Int = 0) -> EventValue? {
        var current = self
        var index = start
        while index < path.segments.count {
            switch (path.segments[index], current) {
            case (.name(let name), .object(let members)):
                guard let next = members[name] else { return nil }
                current = next
            case (.index(let position), .array(let items)):
                guard items.indices.contains(position) else { return nil }
                current = items[position]
            default:
                return nil
            }
            index += 1
        }
        return current
    }
}

/// A JSON syntax error, with the byte offset of the problem.
public typealias EventValueJSONError = JSONValueParser.SyntaxError
