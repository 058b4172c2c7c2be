/// An error from the Postgres side of Outflow: connecting, querying, replicating.
///
/// `code` says what went wrong in a way a program can match on; `message` says it to a
/// person, and `hint` says how to fix it when Outflow knows. Connection strings are never
/// part of an error: they can carry passwords.
public struct PostgresError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The connection string could not be parsed.
        public static let invalidConnectionString = Code("invalid_connection_string")
        /// The server could not be reached or refused the connection.
        public static let connectionFailed = Code("connection_failed")
        /// A statement failed on the server (see `sqlState`).
        public static let queryFailed = Code("query_failed")
        /// The server answered something Outflow did not expect.
        public static let protocolViolation = Code("protocol_violation")
        /// The connection was lost or closed while in use.
        public static let connectionLost = Code("connection_lost")
    }

    public var code: Code
    public var message: String
    /// The SQLSTATE the server reported, when the server reported the error.
    public var sqlState: String?
    public var detail: String?
    public var hint: String?

    public init(code: Code, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += "\ndetail: \(detail)" }
        if let hint { text += "\nhint: \(hint)" }
        return text
    }
}
