import Foundation
import PGOutput
import PostgresSource
import Testing

/// A table set, publication and slot of their own for one test, on the sandbox server.
final class ReplicationFixture {
    let sql: PostgresConnection
    let admin: PostgresConnection
    let slot: String
    let publication: String
    let suffix: String

    /// `tablesSQL` creates the tables (use `{s}` for the fixture's suffix in names);
    /// `published` names them for the publication; `publicationOptions` are more `WITH` options
    /// (e.g. `publish_via_partition_root = true`).
    init(
        tablesSQL: String, published: [String], publish: String = "insert, update, delete, truncate",
        publicationOptions: String? = nil, twoPhase: Bool = false
    ) throws {
        suffix = "\(UInt32.random(in: 0...UInt32.max))"
        sql = try PostgresConnection(try TestPostgres.url())
        admin = try PostgresConnection(try TestPostgres.adminURL())
        slot = "fx_slot_\(suffix)"
        publication = "fx_pub_\(suffix)"
        try sql.execute(name(tablesSQL))
        let tables = published.map { name($0) }.joined(separator: ", ")
        let options = ["publish = '\(publish)'"] + (publicationOptions.map { [$0] } ?? [])
        try sql.execute("CREATE PUBLICATION \(publication) FOR TABLE \(tables) WITH (\(options.joined(separator: ", ")))")
        let replication = try PostgresConnection(try TestPostgres.url(), mode: .replication)
        _ = try replication.createLogicalReplicationSlot(slot, twoPhase: twoPhase)
    }

    deinit {
        _ = try? admin.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '\(slot)' AND NOT active")
        _ = try? sql.execute("DROP PUBLICATION IF EXISTS \(publication)")
    }

    /// Replaces `{s}` with the fixture's suffix.
    func name(_ text: String) -> String { text.replacingOccurrences(of: "{s}", with: suffix) }

    @discardableResult
    func execute(_ statement: String) throws -> QueryResult { try sql.execute(name(statement)) }

    func settings(statusInterval: Duration = .milliseconds(100)) throws -> ReplicationSettings {
        var settings = ReplicationSettings(connectionString: try TestPostgres.url(), slot: slot, publications: [publication])
        settings.statusInterval = statusInterval
        return settings
    }

    func session(durable: LSN = .zero, configure: (inout ReplicationSettings) -> Void = { _ in }) throws -> ReplicationSession {
        var settings = try settings()
        configure(&settings)
        return try ReplicationSession(settings: settings, durable: durable)
    }

    func confirmedFlush() throws -> LSN? {
        try admin.execute("SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = '\(slot)'")
            .value("lsn").flatMap { LSN($0) }
    }

    func currentWAL() throws -> LSN {
        try #require(try sql.execute("SELECT pg_current_wal_lsn()::text AS lsn").value("lsn").flatMap { LSN($0) })
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Reads events until `done` says so, failing after `seconds` (a bound on waiting for the
/// server, not a stand-in for synchronisation: every wait ends on the condition).
func readEvents(
    _ session: ReplicationSession, seconds: Double = 20, until done: ([SourceEvent]) -> Bool
) throws -> [SourceEvent] {
    var events: [SourceEvent] = []
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(seconds * 1000)))
    while !done(events) {
        guard ContinuousClock.now < deadline else {
            throw TimedOut(description: "no complete answer from the server within \(seconds) s; got \(events.count) events: \(events.map(\.summary))")
        }
        if let event = try session.next(timeoutMilliseconds: 200) { events.append(event) }
    }
    return events
}

/// Reads until `count` transactions with row changes have committed. Transactions that
/// carry only logical messages are not counted: every slot of the database sees every test's
/// messages.
func readTransactions(_ session: ReplicationSession, count: Int, seconds: Double = 20) throws -> [SourceEvent] {
    // Counts as events arrive (rescanning them all each time is quadratic: slow for big transactions).
    var scanned = 0, committed = 0
    var hasChange = false
    return try readEvents(session, seconds: seconds) { events in
        for event in events[scanned...] {
            switch event {
            case .begin: hasChange = false
            case .change: hasChange = true
            case .commit: if hasChange { committed += 1 }
            default: break
            }
        }
        scanned = events.count
        return committed >= count
    }
}

/// The events of transactions with row changes, without logical messages and without the
/// message-only transactions other tests cause in every slot.
func rowTransactions(_ events: [SourceEvent]) -> [SourceEvent] {
    var result: [SourceEvent] = []
    var pending: [SourceEvent] = []
    var hasChange = false
    for event in events {
        switch event {
        case .begin: pending = [event]; hasChange = false
        case .change: pending.append(event); hasChange = true
        case .commit:
            if hasChange { result += pending + [event] }
            pending = []
        case .message: break
        default: result.append(event)
        }
    }
    return result
}

extension SourceEvent {
    var summary: String {
        switch self {
        case .begin(let begin): "B(\(begin.xid))"
        case .change(let change): "\(change.operation)(\(change.relation.name))"
        case .commit(let commit): "C(\(commit.xid))"
        case .message(let message): "M(\(message.prefix))"
        case .restarted(let lsn): "restarted(\(lsn))"
        case .streamStart(let xid, _): "S(\(xid))"
        case .streamStop: "E"
        case .streamCommit(let commit): "c(\(commit.xid))"
        case .streamAbort(let xid, let sub): "A(\(xid),\(sub))"
        case .beginPrepare: "b"
        case .prepare: "P"
        case .commitPrepared: "K"
        case .rollbackPrepared: "r"
        }
    }

    /// B, C, insert, update, … : the event's kind without its details.
    var kind: String {
        switch self {
        case .begin: "B"
        case .commit: "C"
        case .change(let change): change.operation.rawValue
        default: summary
        }
    }

    var change: SourceChange? { if case .change(let change) = self { change } else { nil } }
    var commit: TransactionCommit? { if case .commit(let commit) = self { commit } else { nil } }
}

extension SourceChange {
    /// The new row's text values by column name (nil for NULL; "<unchanged toast>" for 'u').
    var newValues: [String: String?] { values(of: newTuple) }
    var oldValues: [String: String?] { values(of: oldTuple?.tuple) }

    private func values(of tuple: TupleData?) -> [String: String?] {
        guard let tuple else { return [:] }
        var values: [String: String?] = [:]
        for (column, value) in zip(relation.columns, tuple.columns) {
            switch value {
            case .null: values[column.name] = .some(nil)
            case .unchangedToast: values[column.name] = "<unchanged toast>"
            case .text(let bytes), .binary(let bytes): values[column.name] = String(decoding: bytes, as: UTF8.self)
            }
        }
        return values
    }
}
