import PostgresSource

/// `source.postgres`: where changes come from.
public struct PostgresSourceConfig: Sendable, Equatable {
    public enum Operation: String, Sendable, CaseIterable {
        case insert, update, delete, truncate
    }

    /// libpq URL (`postgres://…`) or key=value string; usually `${env:…}`, so secret.
    public var url: SecretString
    public var slot: String
    public var publication: String
    public var tables: [TableName]
    /// The publication's `publish` operations.
    public var publish: [Operation]
    /// `publish` was not written in the file: the loader narrows it to inserts when every
    /// table is an outbox table (cleanup deletes are then never decoded).
    public var publishIsDefault = false
    /// How often a heartbeat message is written while the stream is quiet; nil: never.
    public var heartbeatInterval: ConfigDuration? = PostgresSourceConfig.defaultHeartbeatInterval
    /// Create the slot and publication when they do not exist.
    public var createMissing: Bool
    /// How often the standby status (flush position) is sent even when idle.
    public var statusInterval: ConfigDuration
    /// Keep the decoded source transactions for `outflow replay`; nil: no changelog.
    public var changelog: ChangelogConfig?
    /// Warn (log and metric) when the slot holds back more WAL than this on the server.
    public var slotWALWarning: ByteSize = PostgresSourceConfig.defaultSlotWALWarning
    /// Whether the pipeline starts with a snapshot of the rows its tables hold.
    public var snapshot = SnapshotMode.never
    /// Rows per snapshot chunk: the most a snapshot holds in memory at once.
    public var snapshotChunkSize = PostgresSourceConfig.defaultSnapshotChunkSize
    /// Connections reading a table's key ranges in parallel during a snapshot.
    public var snapshotReaders = PostgresSourceConfig.defaultSnapshotReaders
    /// Where `snapshot` was written, for diagnostics that need the rest of the file.
    var snapshotLocation: FileLocation?

    public static let defaultSlotWALWarning = ByteSize("1GiB")!
    public static let defaultHeartbeatInterval = ConfigDuration("1m")!
    public static let defaultSnapshotChunkSize = 4096
    public static let defaultSnapshotReaders = 2

    /// Equal when they configure the same source (where a value came from does not count).
    public static func == (lhs: PostgresSourceConfig, rhs: PostgresSourceConfig) -> Bool {
        lhs.url == rhs.url && lhs.slot == rhs.slot && lhs.publication == rhs.publication && lhs.tables == rhs.tables
            && lhs.publish == rhs.publish && lhs.heartbeatInterval == rhs.heartbeatInterval && lhs.createMissing == rhs.createMissing
            && lhs.statusInterval == rhs.statusInterval && lhs.changelog == rhs.changelog && lhs.slotWALWarning == rhs.slotWALWarning
            && lhs.snapshot == rhs.snapshot && lhs.snapshotChunkSize == rhs.snapshotChunkSize
            && lhs.snapshotReaders == rhs.snapshotReaders
    }

    public init(
        url: SecretString, slot: String, publication: String? = nil, tables: [TableName], publish: [Operation] = Operation.allCases,
        createMissing: Bool = true, statusInterval: ConfigDuration = ConfigDuration("10s")!, changelog: ChangelogConfig? = nil
    ) {
        self.url = url
        self.slot = slot
        self.publication = publication ?? slot
        self.tables = tables
        self.publish = publish
        self.createMissing = createMissing
        self.statusInterval = statusInterval
        self.changelog = changelog
    }
}

/// `source.postgres.changelog`: decoded source transactions kept for replay.
public struct ChangelogConfig: Sendable, Equatable {
    public var retention: ConfigDuration
    public var maxBytes: ByteSize?

    public init(retention: ConfigDuration = ConfigDuration("7d")!, maxBytes: ByteSize? = nil) {
        self.retention = retention
        self.maxBytes = maxBytes
    }
}

extension ChangelogConfig {
    enum Fields {
        static let retention = FieldSpec(
            "retention", .duration, .defaulted(ConfigDuration("7d")!, shown: .string("7d")),
            doc: "How long source transactions are kept for replay, as in 7d.")
        static let maxBytes = FieldSpec("max_bytes", .byteSize, .optional, doc: "Most bytes kept; the oldest go first. Default: no limit.")
    }

    static let spec = ObjectSpec(
        name: "source.postgres.changelog", doc: "Keeps decoded source transactions so `outflow replay --from-lsn` can re-run them.",
        fields: [Fields.retention.schema, Fields.maxBytes.schema])

    static let value = ValueSpec<ChangelogConfig>.object(spec) { reader, context in
        let retention = reader.read(Fields.retention, &context), maxBytes = reader.read(Fields.maxBytes, &context)
        guard let retention else { return nil }
        if reader.has(Fields.maxBytes.name) && maxBytes == nil { return nil }
        return ChangelogConfig(retention: retention, maxBytes: maxBytes)
    }
}

extension PostgresSourceConfig {
    enum Fields {
        static let url = FieldSpec(
            "url", .secretString, .required,
            doc: "libpq connection URL or key=value string; use ${env:NAME} or ${file:PATH} for credentials.")
        static let slot = FieldSpec(
            "slot", .postgresName, .optional, doc: "Logical replication slot. Default: outflow_<name> with '-' and '.' as '_'.")
        static let publication = FieldSpec("publication", .postgresName, .optional, doc: "Publication. Default: the slot's name.")
        static let tables = FieldSpec("tables", .list(of: .tableName, minimum: 1), .required, doc: "Tables to capture, schema.table.")
        static let publish = FieldSpec(
            "publish", .list(of: ValueSpec<Operation>.enumeration, minimum: 1),
            .defaulted(Operation.allCases, shown: .list(Operation.allCases.map { .string($0.rawValue) })),
            doc: "Operations the publication publishes. Default: insert when every table is read by an outbox stage (cleanup deletes are never decoded), all four otherwise.")
        static let heartbeatInterval = FieldSpec(
            "heartbeat_interval", .duration, .defaulted(defaultHeartbeatInterval, shown: .string("1m")),
            doc: "While nothing has been streamed for this long, write a pg_logical_emit_message heartbeat into the source database, so the slot advances past other databases' WAL even when the captured tables are quiet. 0s turns heartbeats off.")
        static let createMissing = FieldSpec(
            "create_missing", .boolean, .defaulted(true, shown: .scalar("true", kind: .bool, secret: false)),
            doc: "Create the slot and publication when they do not exist.")
        static let statusInterval = FieldSpec(
            "status_interval", .duration, .defaulted(ConfigDuration("10s")!, shown: .string("10s")),
            doc: "How often the flushed position is reported to Postgres when idle.")
        static let changelog = FieldSpec("changelog", ChangelogConfig.value, .optional, doc: ChangelogConfig.spec.doc)
        static let slotWALWarning = FieldSpec(
            "slot_wal_warning", .byteSize, .defaulted(defaultSlotWALWarning, shown: .string("1GiB")),
            doc: "Warn (a log line and outflow_slot_wal_warning) when the slot holds back more WAL than this on the server: the pipeline is behind or stopped, and the server's disk fills until it catches up or the slot is dropped.")
        static let snapshot = FieldSpec(
            "snapshot", ValueSpec<SnapshotMode>.enumeration, .defaulted(SnapshotMode.never, shown: .string("never")),
            doc: "Rows the tables already hold: never (only changes from the slot on), initial (when the log is new, read every captured table that is not an outbox table, chunk by chunk between watermarks in the stream, while streaming goes on) or initial_only (the same, then stop). Needs guarantee exactly_once. Outbox tables are never snapshotted: old outbox rows are not events. Backfills later: outflow snapshot FILE.")
        static let snapshotChunkSize = FieldSpec(
            "snapshot_chunk_size", .integer(1...1_000_000), .defaulted(defaultSnapshotChunkSize, shown: .number("4096")),
            doc: "Rows a snapshot reads per chunk (by primary key range). A snapshot holds at most 2 chunks per reader in memory.")
        static let snapshotReaders = FieldSpec(
            "snapshot_readers", .integer(1...16), .defaulted(defaultSnapshotReaders, shown: .number("2")),
            doc: "Connections reading a table in parallel during a snapshot, each its own range of primary keys; each reads its next chunk while the stream catches up with the previous one.")
    }

    static let spec = ObjectSpec(
        name: "source.postgres", doc: "PostgreSQL logical replication with the pgoutput plugin.",
        fields: [Fields.url.schema, Fields.slot.schema, Fields.publication.schema, Fields.tables.schema, Fields.publish.schema,
                 Fields.createMissing.schema, Fields.statusInterval.schema, Fields.heartbeatInterval.schema, Fields.changelog.schema,
                 Fields.slotWALWarning.schema, Fields.snapshot.schema, Fields.snapshotChunkSize.schema,
                 Fields.snapshotReaders.schema])

    /// The slot name used when none is given.
    static func defaultSlot(pipelineName: String) -> String {
        let cleaned = String(pipelineName.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.filter(\.isASCII))
        return String("outflow_\(cleaned)".prefix(63))
    }

    static func decode(_ reader: ObjectReader, pipelineName: String?, _ context: inout DecodingContext) -> PostgresSourceConfig? {
        let url = reader.read(Fields.url, &context)
        var slot = reader.read(Fields.slot, &context)
        if !reader.has(Fields.slot.name), let pipelineName {
            slot = defaultSlot(pipelineName: pipelineName)
            reader.show(Fields.slot.name, .string(slot!))
        }
        var publication = reader.read(Fields.publication, &context)
        if !reader.has(Fields.publication.name), let slot {
            publication = slot
            reader.show(Fields.publication.name, .string(slot))
        }
        let tables = reader.read(Fields.tables, &context), publish = reader.read(Fields.publish, &context)
        let createMissing = reader.read(Fields.createMissing, &context)
        let statusInterval = reader.read(Fields.statusInterval, &context)
        let changelog = reader.read(Fields.changelog, &context)
        let heartbeatInterval = reader.read(Fields.heartbeatInterval, &context)
        let slotWALWarning = reader.read(Fields.slotWALWarning, &context)
        let snapshot = reader.read(Fields.snapshot, &context), snapshotChunkSize = reader.read(Fields.snapshotChunkSize, &context)
        let snapshotReaders = reader.read(Fields.snapshotReaders, &context)
        if let tables {
            var seen: Set<TableName> = []
            for table in tables where !seen.insert(table).inserted {
                context.log.error(.invalidValue, "table \(table) is listed twice", at: reader.keyLocation(Fields.tables.name) ?? reader.location)
            }
        }
        guard let url, let slot, let publication, let tables, let publish, let createMissing, let statusInterval, let slotWALWarning,
              let heartbeatInterval, let snapshot, let snapshotChunkSize, let snapshotReaders else { return nil }
        if reader.has(Fields.changelog.name) && changelog == nil { return nil }
        var config = PostgresSourceConfig(
            url: url, slot: slot, publication: publication, tables: tables, publish: publish, createMissing: createMissing,
            statusInterval: statusInterval, changelog: changelog)
        config.publishIsDefault = !reader.has(Fields.publish.name)
        config.heartbeatInterval = heartbeatInterval.milliseconds > 0 ? heartbeatInterval : nil
        config.slotWALWarning = slotWALWarning
        config.snapshot = snapshot
        config.snapshotChunkSize = snapshotChunkSize
        config.snapshotReaders = snapshotReaders
        config.snapshotLocation = reader.node(Fields.snapshot.name)?.location
        return config
    }
}
