import PostgresSource

/// `sink.postgres`: tables of another PostgreSQL database (an inbox) the pipeline writes into
/// through libpq — an append table of events and/or a table keeping the newest value per key —,
/// with the processed event ids and the pipeline's checkpoint in the same target transaction.
/// docs/postgres-sink.md has the tables and what each guarantee does.
public struct PostgresSinkConfig: Sendable, Equatable {
    /// libpq URL or key=value string of the target database; usually `${env:…}`, so secret.
    public var url: SecretString
    /// The schema holding the sink's tables.
    public var schema: String
    /// The append table of events; nil (`events_table: false`) when only the upsert is wanted.
    public var eventsTable: String?
    /// The table keeping the newest value per (topic, key); nil: no upsert.
    public var upsertTable: String?
    /// How long processed event ids are remembered (redeliveries within it are no-ops).
    public var processedWindow: ConfigDuration
    /// Create the schema and tables when missing.
    public var createTables: Bool
    /// Least time from one group commit (a target transaction) to the next while transactions keep arriving.
    public var minCommitInterval: ConfigDuration

    public init(
        url: SecretString, schema: String = PostgresSinkConfig.defaultSchema, eventsTable: String? = PostgresSinkConfig.defaultEventsTable,
        upsertTable: String? = nil, processedWindow: ConfigDuration = PostgresSinkConfig.defaultProcessedWindow, createTables: Bool = true,
        minCommitInterval: ConfigDuration = PostgresSinkConfig.defaultMinCommitInterval
    ) {
        self.url = url
        self.schema = schema
        self.eventsTable = eventsTable
        self.upsertTable = upsertTable
        self.processedWindow = processedWindow
        self.createTables = createTables
        self.minCommitInterval = minCommitInterval
    }
}

extension PostgresSinkConfig {
    /// The target for messages: the reference when it came from `${env:…}` / `${file:…}`, the
    /// parsed parameters without the password otherwise.
    public var displayURL: String {
        if url.isSecret { return url.redacted }
        return (try? ConnectionString(url.value).redacted) ?? "(an unparsable connection string)"
    }

    public static let defaultSchema = "outflow"
    public static let defaultEventsTable = "inbox_events"
    public static let defaultProcessedWindow = ConfigDuration("24h")!
    public static let defaultMinCommitInterval = ConfigDuration("5ms")!

    /// A table name, or `false` for no table.
    static let tableOrOff = ValueSpec<String?>(
        schema: .object([("oneOf", .array([
            .object([("type", .string("string")), ("pattern", .string("^[a-z_][a-z0-9_]{0,62}$"))]),
            .object([("const", .bool(false))]),
        ]))])
    ) { node, context in
        if case .scalar(let scalar) = node, scalar.kind == .bool {
            guard scalar.text.lowercased() == "false" else {
                context.log.error(.invalidValue, "events_table: true names no table", at: scalar.location,
                                  hint: "name the table (default inbox_events), or write false for none")
                return nil
            }
            return Decoded(value: nil, shown: .scalar("false", kind: .bool, secret: false))
        }
        return ValueSpec<String>.postgresName.decode(node, &context).map { Decoded(value: $0.value, shown: $0.shown) }
    }

    enum Fields {
        static let url = FieldSpec(
            "url", .secretString, .required,
            doc: "libpq connection URL or key=value string of the target database; use ${env:NAME} or ${file:PATH} for credentials.")
        static let schema = FieldSpec(
            "schema", .postgresName, .defaulted(defaultSchema, shown: .string(defaultSchema)), doc: "The schema of the sink's tables.")
        static let eventsTable = FieldSpec(
            "events_table", tableOrOff, .defaulted(defaultEventsTable, shown: .string(defaultEventsTable)),
            doc: "The append table of events (id, topic, key, value, headers, source position); false for none (upsert only).")
        static let upsertTable = FieldSpec("table", ValueSpec<String>.postgresName, .required, doc: "The table keeping the newest value per (topic, key).")
        static let upsertSpec = ObjectSpec(
            name: "sink.postgres.upsert",
            doc: "Keep the newest value per (topic, key): a newer source position replaces the row, a null value deletes it.",
            fields: [upsertTable.schema], shorthand: "table")
        static let upsert = FieldSpec(
            "upsert", ValueSpec<String>.object(upsertSpec) { reader, context in reader.read(upsertTable, &context) }, .optional, doc: upsertSpec.doc)
        static let processedWindow = FieldSpec(
            "processed_window", .duration, .defaulted(defaultProcessedWindow, shown: .string("24h")),
            doc: "How long processed event ids are kept: an event whose id arrives again within it is not written again. Pruned in small batches.")
        static let createTables = FieldSpec(
            "create_tables", .boolean, .defaulted(true, shown: .scalar("true", kind: .bool, secret: false)),
            doc: "Create the schema and tables when missing (CREATE … IF NOT EXISTS); false: they must exist (validate --online says what is missing).")
        static let minCommitInterval = FieldSpec(
            "min_commit_interval", .duration, .defaulted(defaultMinCommitInterval, shown: .string("5ms")),
            doc: "Least time between two target transactions while source transactions keep arriving; a transaction after a quiet spell commits at once.")
    }

    static let spec = ObjectSpec(
        name: "sink.postgres", doc: "Tables of another PostgreSQL database (an inbox), written in one target transaction per group with the processed ids and the checkpoint.",
        fields: [Fields.url.schema, Fields.schema.schema, Fields.eventsTable.schema, Fields.upsert.schema, Fields.processedWindow.schema,
                 Fields.createTables.schema, Fields.minCommitInterval.schema])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> PostgresSinkConfig? {
        let url = reader.read(Fields.url, &context), schema = reader.read(Fields.schema, &context)
        let eventsTable = reader.read(Fields.eventsTable, &context), upsertTable = reader.read(Fields.upsert, &context)
        let processedWindow = reader.read(Fields.processedWindow, &context), createTables = reader.read(Fields.createTables, &context)
        let minCommitInterval = reader.read(Fields.minCommitInterval, &context)
        if reader.has(Fields.upsert.name), upsertTable == nil { return nil }
        guard let url, let schema, let eventsTable, let processedWindow, let createTables, let minCommitInterval else { return nil }
        if eventsTable == nil, upsertTable == nil {
            context.log.error(.conflictingOptions, "sink.postgres writes nowhere: events_table is false and there is no upsert",
                              at: reader.keyLocation(Fields.eventsTable.name) ?? reader.location, length: Fields.eventsTable.name.count,
                              hint: "keep the events table, or add upsert: {table: …}")
            return nil
        }
        if let upsertTable, upsertTable == eventsTable || Self.internalTables.contains(upsertTable) {
            context.log.error(.conflictingOptions, "upsert table \(upsertTable) is also used for something else",
                              at: reader.keyLocation(Fields.upsert.name) ?? reader.location, hint: "give the upsert table a name of its own")
            return nil
        }
        if let eventsTable, Self.internalTables.contains(eventsTable) {
            context.log.error(.conflictingOptions, "\(eventsTable) is one of the sink's own tables",
                              at: reader.keyLocation(Fields.eventsTable.name) ?? reader.location, hint: "give the events table another name")
            return nil
        }
        if processedWindow.milliseconds <= 0 {
            context.log.error(.invalidValue, "processed_window must be longer than 0",
                              at: reader.keyLocation(Fields.processedWindow.name) ?? reader.location, hint: "the seed's default is 24h")
            return nil
        }
        return PostgresSinkConfig(
            url: url, schema: schema, eventsTable: eventsTable, upsertTable: upsertTable, processedWindow: processedWindow, createTables: createTables,
            minCommitInterval: minCommitInterval)
    }

    /// Tables the sink keeps for itself in the schema.
    public static let processedTable = "processed_messages"
    public static let checkpointsTable = "checkpoints"
    public static let checkpointHistoryTable = "checkpoint_history"
    static let internalTables: Set<String> = [processedTable, checkpointsTable, checkpointHistoryTable]
}
