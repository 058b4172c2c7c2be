import PGOutput

/// What a pipeline needs of the server, checked before it starts so that each missing piece
/// is reported with how to fix it, rather than as a failure half-way through streaming.
public struct PreflightRequirements: Sendable {
    public var tables: [TableName]
    public var slot: String?
    public var publication: String?
    /// The operations the pipeline needs decoded: UPDATE and DELETE need a replica identity.
    public var operations: [PublishedOperation]

    public init(tables: [TableName] = [], slot: String? = nil, publication: String? = nil, operations: [PublishedOperation] = [.insert]) {
        self.tables = tables
        self.slot = slot
        self.publication = publication
        self.operations = operations
    }
}

public struct PreflightReport: Sendable {
    /// What was found, one line each, for a person to read.
    public var lines: [String] = []
    /// What stops Outflow from working, each with a hint.
    public var problems: [PostgresError] = []
    public var isReady: Bool { problems.isEmpty }
}

extension PostgresError.Code {
    public static let serverTooOld = Self("server_too_old")
    public static let walLevelNotLogical = Self("wal_level_not_logical")
    public static let missingPrivilege = Self("missing_privilege")
    public static let slotInUse = Self("slot_in_use")
    public static let slotInvalid = Self("slot_invalid")
    public static let publicationIncomplete = Self("publication_incomplete")
    public static let missingTable = Self("missing_table")
    public static let noReplicaIdentity = Self("no_replica_identity")
    public static let notEnoughSlots = Self("not_enough_slots")
}

/// The oldest server Outflow supports: pgoutput protocol 3, row filters, skipped empty transactions.
public let minimumServerVersion = 150000

extension PostgresConnection {
    public func preflight(_ requirements: PreflightRequirements = .init()) throws(PostgresError) -> PreflightReport {
        var report = PreflightReport()
        let version = serverVersion
        report.lines.append("server: PostgreSQL \(version / 10000).\(version % 10000)")
        if version < minimumServerVersion {
            report.problems.append(PostgresError(
                code: .serverTooOld,
                message: "PostgreSQL \(version / 10000) is too old: Outflow needs 15 or newer",
                hint: "upgrade the server"))
        }

        let settings = try execute("""
            SELECT current_setting('wal_level') AS wal_level,
                   current_setting('max_replication_slots')::int AS max_slots,
                   (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
                   current_setting('max_wal_senders')::int AS max_senders,
                   current_user AS role,
                   (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)::text AS can_replicate
            """)
        let walLevel = settings.value("wal_level") ?? "?"
        let role = settings.value("role") ?? "?"
        report.lines.append("wal_level: \(walLevel)")
        if walLevel != "logical" {
            report.problems.append(PostgresError(
                code: .walLevelNotLogical,
                message: "wal_level is '\(walLevel)': logical replication needs 'logical'",
                hint: "ALTER SYSTEM SET wal_level = logical; then restart the server"))
        }
        if settings.value("can_replicate") != "true" {
            report.problems.append(PostgresError(
                code: .missingPrivilege,
                message: "role \"\(role)\" lacks the REPLICATION attribute",
                hint: "ALTER ROLE \(try quoteIdentifier(role)) REPLICATION;"))
        }

        for table in requirements.tables {
            let quotedTable = try quoteLiteral(try quoted(table))
            let found = try execute("""
                SELECT c.relreplident::text AS identity,
                       has_table_privilege(c.oid, 'SELECT')::text AS can_select,
                       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text AS has_pk
                FROM pg_class c WHERE c.oid = to_regclass(\(quotedTable))
                """)
            guard !found.rows.isEmpty else {
                report.problems.append(PostgresError(
                    code: .missingTable, message: "table \(table) does not exist",
                    hint: "create it first, or check the name (schema.table, as stored: unquoted names are lower case)"))
                continue
            }
            if found.value("can_select") != "true" {
                report.problems.append(PostgresError(
                    code: .missingPrivilege, message: "role \"\(role)\" cannot SELECT from \(table)",
                    hint: "GRANT SELECT ON \(try quoted(table)) TO \(try quoteIdentifier(role));"))
            }
            let identity = found.value("identity") ?? "d"
            let hasKey = found.value("has_pk") == "true"
            let needsIdentity = requirements.operations.contains(.update) || requirements.operations.contains(.delete)
            let identityName = ["d": hasKey ? "default (primary key)" : "default (no primary key)", "n": "nothing", "f": "full", "i": "index"][identity] ?? identity
            report.lines.append("table \(table): replica identity \(identityName)")
            if needsIdentity && (identity == "n" || (identity == "d" && !hasKey)) {
                report.problems.append(PostgresError(
                    code: .noReplicaIdentity,
                    message: "table \(table) has no usable replica identity: its UPDATEs and DELETEs cannot be replicated",
                    hint: "add a primary key, or ALTER TABLE \(try quoted(table)) REPLICA IDENTITY FULL;"))
            }
        }

        if let publication = requirements.publication {
            if let published = try publicationTables(publication) {
                let missing = requirements.tables.filter { !published.contains($0) }
                report.lines.append("publication \(publication): publishes \(published.map(\.description).joined(separator: ", "))")
                if !missing.isEmpty {
                    let list = missing.map(\.description).joined(separator: ", ")
                    report.problems.append(PostgresError(
                        code: .publicationIncomplete, message: "publication \"\(publication)\" does not publish \(list)",
                        hint: "ALTER PUBLICATION \(try quoteIdentifier(publication)) ADD TABLE \(list);"))
                }
            } else {
                report.lines.append("publication \(publication): missing (will be created)")
            }
        }

        if let slotName = requirements.slot {
            if let slot = try replicationSlot(named: slotName) {
                report.lines.append("slot \(slotName): \(slot.plugin ?? "-"), confirmed at \(slot.confirmedFlushLSN?.description ?? "-")")
                if slot.active, let pid = slot.activePID, pid != backendPID {
                    report.problems.append(PostgresError(
                        code: .slotInUse, message: "replication slot \"\(slotName)\" is in use by process \(pid)",
                        hint: "stop the other consumer (SELECT pg_terminate_backend(\(pid)); if it is a leftover), or use another slot"))
                }
                if slot.walStatus == "lost" {
                    report.problems.append(PostgresError(
                        code: .slotInvalid,
                        message: "replication slot \"\(slotName)\" was invalidated: the WAL it needed is gone (max_slot_wal_keep_size)",
                        hint: "drop it and create a new one; changes made since its confirmed position cannot be streamed"))
                }
                if slot.slotType != "logical" || slot.plugin != "pgoutput" {
                    report.problems.append(PostgresError(
                        code: .slotInvalid, message: "replication slot \"\(slotName)\" is not a pgoutput logical slot",
                        hint: "use another slot name"))
                }
            } else {
                report.lines.append("slot \(slotName): missing (will be created)")
                let used = Int(settings.value("used_slots") ?? "0") ?? 0
                let maximum = Int(settings.value("max_slots") ?? "0") ?? 0
                if used >= maximum {
                    report.problems.append(PostgresError(
                        code: .notEnoughSlots, message: "all \(maximum) replication slots are in use (max_replication_slots)",
                        hint: "raise max_replication_slots and restart, or drop an unused slot"))
                }
            }
        }
        return report
    }
}
