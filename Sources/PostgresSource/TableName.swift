/// A table named by schema and name, as in `public.outbox`. Without a schema, `public`.
public struct TableName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var schema: String
    public var name: String

    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses `schema.table` or `table`; names are taken as written (no case folding), so
    /// a table created unquoted is written in lower case here, as Postgres stores it.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where !parts[0].isEmpty:
            self.init(schema: "public", name: String(parts[0]))
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty:
            self.init(schema: String(parts[0]), name: String(parts[1]))
        default:
            return nil
        }
    }

    public var description: String { "\(schema).\(name)" }

    public static func < (lhs: TableName, rhs: TableName) -> Bool {
        (lhs.schema, lhs.name) < (rhs.schema, rhs.name)
    }
}

extension PostgresConnection {
    /// The table's name quoted for SQL: `"schema"."name"`.
    public func quoted(_ table: TableName) throws(PostgresError) -> String {
        "\(try quoteIdentifier(table.schema)).\(try quoteIdentifier(table.name))"
    }
}
