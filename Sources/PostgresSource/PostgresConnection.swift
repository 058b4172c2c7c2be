import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection: SQL, or replication (`replication=database`), which accepts the
/// replication commands (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, START_REPLICATION …)
/// as well as ordinary SQL through the simple query protocol.
///
/// A connection is used from one task at a time (libpq connections are not thread-safe), so
/// the type is deliberately not `Sendable`.
public final class PostgresConnection {
    public enum Mode: Sendable {
        case sql
        case replication
    }

    let handle: OpaquePointer
    public let mode: Mode
    /// The connection's parameters, safe to print (no password).
    public let redactedConnectionString: String

    /// Connects, blocking until the server answered or `connectTimeout` (seconds) passed;
    /// a `connect_timeout` in the connection string wins.
    public init(
        _ connectionString: ConnectionString,
        mode: Mode = .sql,
        applicationName: String = "outflow",
        connectTimeout: Int = 10
    ) throws(PostgresError) {
        // Later keywords override earlier ones, and the expanded `dbname` string counts at its
        // position: defaults go before it, what Outflow requires goes after it.
        var keywords = ["fallback_application_name", "connect_timeout", "dbname", "client_encoding"]
        var values = [applicationName, String(connectTimeout), connectionString.rawValue, "UTF8"]
        if mode == .replication {
            keywords.append("replication")
            values.append("database")
            // pgoutput prints values with the walsender session's settings: fix the ones that
            // change the text of dates, intervals and floats (as Postgres' own subscribers do).
            keywords.append("options")
            values.append(((connectionString.value(of: "options").map { $0 + " " }) ?? "") + Self.replicationSessionOptions)
        }
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = String(cString: PQerrorMessage(connection)).trimmedTrailingNewlines
            PQfinish(connection)
            throw PostgresError(
                code: .connectionFailed,
                message: "could not connect to \(connectionString.redacted): \(reason)",
                hint: Self.hint(forConnectionFailure: reason, mode: mode))
        }
        self.handle = connection
        self.mode = mode
        self.redactedConnectionString = connectionString.redacted
    }

    deinit {
        PQfinish(handle)
    }

    static let replicationSessionOptions = "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3"

    /// The server's version as an integer, e.g. 150018 for 15.18.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// The backend process id serving this connection.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Runs one statement (or replication command) and returns its rows as text.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> QueryResult {
        try takeResult(PQexec(handle, sql), of: "for: \(sql)")
    }

    /// The rows of a statement's result, or its error; frees the result. `statement` names it
    /// in the error for a result of an unexpected kind.
    func takeResult(_ result: OpaquePointer?, of statement: @autoclosure () -> String) throws(PostgresError) -> QueryResult {
        guard let result else { throw connectionError("the server did not answer") }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return QueryResult(result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR:
            throw serverError(result)
        default:
            let status = String(cString: PQresStatus(PQresultStatus(result)))
            throw PostgresError(code: .protocolViolation, message: "unexpected result \(status) \(statement())")
        }
    }

    /// Quotes an identifier (table, publication, slot name) for use in SQL.
    public func quoteIdentifier(_ identifier: String) throws(PostgresError) -> String {
        guard let quoted = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
            throw connectionError("could not quote identifier")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Quotes a string literal for use in SQL.
    public func quoteLiteral(_ literal: String) throws(PostgresError) -> String {
        guard let quoted = PQescapeLiteral(handle, literal, literal.utf8.count) else {
            throw connectionError("could not quote literal")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    func connectionError(_ what: String) -> PostgresError {
        let reason = String(cString: PQerrorMessage(handle)).trimmedTrailingNewlines
        let lost = PQstatus(handle) != CONNECTION_OK
        return PostgresError(
            code: lost ? .connectionLost : .queryFailed,
            message: reason.isEmpty ? what : "\(what): \(reason)")
    }

    func serverError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        let primary = field(Int32(UInt8(ascii: "M"))) ?? String(cString: PQresultErrorMessage(result)).trimmedTrailingNewlines
        let lost = PQstatus(handle) != CONNECTION_OK
        return PostgresError(
            code: lost ? .connectionLost : .queryFailed,
            message: primary,
            sqlState: field(Int32(UInt8(ascii: "C"))),
            detail: field(Int32(UInt8(ascii: "D"))),
            hint: field(Int32(UInt8(ascii: "H"))))
    }

    static func hint(forConnectionFailure reason: String, mode: Mode) -> String? {
        if reason.contains("password authentication failed") || reason.contains("no password supplied") {
            return "check the user name and password in the connection string"
        }
        if reason.contains("Connection refused") || reason.contains("could not translate host name") {
            return "is the server running, and are the host and port right?"
        }
        if reason.contains("pg_hba.conf") {
            return mode == .replication
                ? "allow this role in pg_hba.conf for the database (logical replication matches the database name, not the 'replication' keyword)"
                : "allow this host and role in the server's pg_hba.conf"
        }
        if reason.contains("replication role") || reason.contains("replication permission") || reason.contains("permission denied to start WAL sender") {
            return "grant it: ALTER ROLE <role> REPLICATION"
        }
        if reason.contains("does not exist") {
            return "check the database and role names in the connection string"
        }
        return nil
    }
}

/// Rows of a query result, every value in Postgres' text format (nil for NULL).
public struct QueryResult: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    public let commandTag: String

    init(_ result: OpaquePointer) {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        rows = (0..<rowCount).map { row in
            (0..<columnCount).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            }
        }
        commandTag = String(cString: PQcmdStatus(result))
    }

    /// The value of `column` in `row`, by column name.
    public func value(_ column: String, row: Int = 0) -> String? {
        guard row < rows.count, let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicates.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
