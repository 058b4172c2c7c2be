import PGOutput

/// The row operations a publication publishes. An outbox publishes only inserts, so the
/// application's cleanup deletes are never decoded.
public enum PublishedOperation: String, Sendable, CaseIterable, Codable {
    case insert, update, delete, truncate
}

/// A replication slot as `pg_replication_slots` describes it.
public struct ReplicationSlotInfo: Sendable, Equatable {
    public var name: String
    public var plugin: String?
    public var slotType: String
    public var database: String?
    public var active: Bool
    public var activePID: Int32?
    public var restartLSN: LSN?
    public var confirmedFlushLSN: LSN?
    public var walStatus: String?
    public var twoPhase: Bool
}

/// What `ensure…` did: Outflow creates what is missing and reuses what is there, and says which.
public enum EnsureOutcome: String, Sendable, Equatable {
    case created, reused
}

extension PostgresConnection {
    public func replicationSlots() throws(PostgresError) -> [ReplicationSlotInfo] {
        let result = try execute("""
            SELECT slot_name, plugin, slot_type, database, active::text, active_pid::text,
                   restart_lsn::text, confirmed_flush_lsn::text, wal_status, two_phase::text
            FROM pg_replication_slots ORDER BY slot_name
            """)
        return result.rows.map { row in
            ReplicationSlotInfo(
                name: row[0] ?? "", plugin: row[1], slotType: row[2] ?? "", database: row[3],
                active: row[4] == "true", activePID: row[5].flatMap { Int32($0) },
                restartLSN: row[6].flatMap { LSN($0) }, confirmedFlushLSN: row[7].flatMap { LSN($0) },
                walStatus: row[8], twoPhase: row[9] == "true")
        }
    }

    public func replicationSlot(named name: String) throws(PostgresError) -> ReplicationSlotInfo? {
        try replicationSlots().first { $0.name == name }
    }

    /// Creates the logical slot when missing; reuses it when it is a pgoutput slot of this
    /// database, and refuses anything else (a physical slot, another plugin, another database).
    public func ensureLogicalReplicationSlot(
        _ name: String, twoPhase: Bool = false
    ) throws(PostgresError) -> (ReplicationSlotInfo, EnsureOutcome) {
        if let existing = try replicationSlot(named: name) {
            let database = try execute("SELECT current_database() AS db").value("db")
            guard existing.slotType == "logical", existing.plugin == "pgoutput", existing.database == database else {
                throw PostgresError(
                    code: .queryFailed,
                    message: "replication slot \"\(name)\" exists but is \(existing.slotType) / \(existing.plugin ?? "no plugin") / database \(existing.database ?? "none"), not a pgoutput slot of \(database ?? "this database")",
                    hint: "pick another slot name, or drop that slot if nothing uses it")
            }
            return (existing, .reused)
        }
        _ = try createLogicalReplicationSlot(name, twoPhase: twoPhase)
        guard let created = try replicationSlot(named: name) else {
            throw PostgresError(code: .protocolViolation, message: "replication slot \"\(name)\" vanished right after it was created")
        }
        return (created, .created)
    }

    /// The tables a publication publishes (partitions appear under their published name).
    public func publicationTables(_ publication: String) throws(PostgresError) -> [TableName]? {
        let exists = try execute("SELECT 1 FROM pg_publication WHERE pubname = \(try quoteLiteral(publication))")
        guard !exists.rows.isEmpty else { return nil }
        let result = try execute(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = \(try quoteLiteral(publication)) ORDER BY 1, 2")
        return result.rows.map { TableName(schema: $0[0] ?? "", name: $0[1] ?? "") }
    }

    /// Creates the publication for `tables` when missing. An existing publication is reused
    /// as it is — Outflow never alters what someone else may rely on — but it must publish
    /// every table the pipeline reads.
    public func ensurePublication(
        _ name: String, tables: [TableName], operations: [PublishedOperation]
    ) throws(PostgresError) -> EnsureOutcome {
        if let published = try publicationTables(name) {
            let missing = tables.filter { !published.contains($0) }
            guard missing.isEmpty else {
                let list = missing.map(\.description).joined(separator: ", ")
                throw PostgresError(
                    code: .queryFailed,
                    message: "publication \"\(name)\" does not publish \(list)",
                    hint: "ALTER PUBLICATION \(try quoteIdentifier(name)) ADD TABLE \(list);")
            }
            return .reused
        }
        guard !tables.isEmpty else {
            throw PostgresError(code: .queryFailed, message: "publication \"\(name)\" needs at least one table")
        }
        var quotedTables: [String] = []
        for table in tables { quotedTables.append(try quoted(table)) }
        let publish = operations.map(\.rawValue).joined(separator: ", ")
        try execute(
            "CREATE PUBLICATION \(try quoteIdentifier(name)) FOR TABLE \(quotedTables.joined(separator: ", ")) WITH (publish = '\(publish)')")
        return .created
    }
}
