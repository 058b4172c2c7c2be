import PostgresSource

/// `outbox`: turns rows of a transactional-outbox table into events, with Debezium's
/// EventRouter semantics and defaults: the event id from `id`, the key from `aggregateid`,
/// the value from `payload`, the event type from `type` (into the `type` header), the topic
/// `outbox.event.<aggregatetype>`. Deleting outbox rows (the usual cleanup) emits nothing;
/// updating them is a mistake, warned about and dropped.
public struct OutboxStageConfig: Sendable, Equatable {
    public enum OnUpdate: String, Sendable, CaseIterable {
        /// Log a warning and drop the update (Debezium's behaviour).
        case warnDrop = "warn_drop"
        case drop
        /// Stop the pipeline: the table is being used in a way the events cannot express.
        case fail
    }

    public enum OnDelete: String, Sendable, CaseIterable {
        case drop
        case warnDrop = "warn_drop"
        case fail
    }

    /// Column names of the outbox table.
    public struct Columns: Sendable, Equatable {
        public var id: String
        public var aggregateType: String
        public var aggregateID: String
        public var type: String
        public var payload: String

        public init(
            id: String = "id", aggregateType: String = "aggregatetype", aggregateID: String = "aggregateid", type: String = "type",
            payload: String = "payload"
        ) {
            self.id = id
            self.aggregateType = aggregateType
            self.aggregateID = aggregateID
            self.type = type
            self.payload = payload
        }
    }

    public var table: TableName
    public var columns: Columns
    /// Topic of each event; its expressions read the row's columns.
    public var topic: EventTemplate
    /// A column copied into a record header.
    public struct HeaderColumn: Sendable, Equatable {
        public var column: String
        public var header: String

        public init(column: String, header: String) {
            self.column = column
            self.header = header
        }
    }

    /// Extra columns copied into record headers, in file order.
    public var headers: [HeaderColumn]
    public var onUpdate: OnUpdate
    public var onDelete: OnDelete
    /// A row whose payload is null or empty becomes a tombstone (key, null value) instead of
    /// an event with an empty value; for compacted topics.
    public var tombstoneOnEmptyPayload: Bool

    /// Deleting outbox rows once their transaction is durable in the sink and older than a
    /// retention (docs/outbox-cleanup.md). Off (nil) unless the file asks for it.
    public struct Cleanup: Sendable, Equatable {
        /// How long a row stays after its transaction committed (0s: as soon as it is durable).
        public var retention: ConfigDuration
        /// A timestamp column set when the row is inserted (`DEFAULT now()`), indexed: it narrows
        /// each batch to an index range and gives the oldest row's age.
        public var column: String
        /// How often the cleaner looks (and takes a visibility watermark).
        public var interval: ConfigDuration
        /// Rows per DELETE, each batch a transaction of its own, so its locks are short.
        public var batchSize: Int

        public init(retention: ConfigDuration, column: String = "created_at", interval: ConfigDuration = ConfigDuration("30s")!, batchSize: Int = 1000) {
            self.retention = retention
            self.column = column
            self.interval = interval
            self.batchSize = batchSize
        }
    }

    public var cleanup: Cleanup?

    public init(
        table: TableName, columns: Columns = Columns(), topic: EventTemplate, headers: [HeaderColumn] = [],
        onUpdate: OnUpdate = .warnDrop, onDelete: OnDelete = .drop, tombstoneOnEmptyPayload: Bool = false, cleanup: Cleanup? = nil
    ) {
        self.cleanup = cleanup
        self.table = table
        self.columns = columns
        self.topic = topic
        self.headers = headers
        self.onUpdate = onUpdate
        self.onDelete = onDelete
        self.tombstoneOnEmptyPayload = tombstoneOnEmptyPayload
    }
}

extension OutboxStageConfig.Columns {
    enum Fields {
        static let id = FieldSpec("id", .string, .defaulted("id", shown: .string("id")), doc: "Column with the event id (unique per event).")
        static let aggregateType = FieldSpec(
            "aggregate_type", .string, .defaulted("aggregatetype", shown: .string("aggregatetype")),
            doc: "Column with the aggregate type; the default topic is outbox.event.<value>.")
        static let aggregateID = FieldSpec(
            "aggregate_id", .string, .defaulted("aggregateid", shown: .string("aggregateid")),
            doc: "Column with the aggregate id: the record key, so one aggregate's events stay in order.")
        static let type = FieldSpec("type", .string, .defaulted("type", shown: .string("type")), doc: "Column with the event type, copied into the 'type' header.")
        static let payload = FieldSpec("payload", .string, .defaulted("payload", shown: .string("payload")), doc: "Column with the event payload: the record value.")
    }

    static let spec = ObjectSpec(
        name: "outbox columns", doc: "Column names of the outbox table (Debezium's defaults).",
        fields: [Fields.id.schema, Fields.aggregateType.schema, Fields.aggregateID.schema, Fields.type.schema, Fields.payload.schema])

    static let value = ValueSpec<Self>.object(spec) { reader, context in
        guard let id = reader.read(Fields.id, &context), let aggregateType = reader.read(Fields.aggregateType, &context),
              let aggregateID = reader.read(Fields.aggregateID, &context), let type = reader.read(Fields.type, &context),
              let payload = reader.read(Fields.payload, &context) else { return nil }
        return Self(id: id, aggregateType: aggregateType, aggregateID: aggregateID, type: type, payload: payload)
    }
}

extension OutboxStageConfig.Cleanup {
    enum Fields {
        static let retention = FieldSpec(
            "retention", .duration, .defaulted(ConfigDuration("7d")!, shown: .string("7d")),
            doc: "How long a row stays after its transaction committed and is durable in the sink; 0s deletes as soon as it is durable.")
        static let column = FieldSpec(
            "column", .string, .defaulted("created_at", shown: .string("created_at")),
            doc: "A timestamp column set at insert (DEFAULT now()) with an index on it (CREATE INDEX ON <table> (<column>)).")
        static let interval = FieldSpec(
            "interval", .duration, .defaulted(ConfigDuration("30s")!, shown: .string("30s")),
            doc: "How often the cleaner runs (each run deletes what has become durable and old enough).")
        static let batchSize = FieldSpec(
            "batch_size", .integer(1...100_000), .defaulted(1000, shown: .number("1000")),
            doc: "Rows per DELETE; each batch is a transaction of its own, so locks stay short.")
    }

    static let spec = ObjectSpec(
        name: "outbox cleanup",
        doc: "Deletes outbox rows once their transaction is durable in the sink and older than the retention (whole partitions of a table partitioned by the column). Off when absent.",
        fields: [Fields.retention.schema, Fields.column.schema, Fields.interval.schema, Fields.batchSize.schema])

    static let value = ValueSpec<Self>.object(spec) { reader, context in
        guard let retention = reader.read(Fields.retention, &context), let column = reader.read(Fields.column, &context),
              let interval = reader.read(Fields.interval, &context), let batchSize = reader.read(Fields.batchSize, &context) else { return nil }
        if interval.milliseconds == 0 {
            context.log.error(.invalidValue, "the cleanup interval must be longer than 0", at: reader.keyLocation(Fields.interval.name) ?? reader.location)
            return nil
        }
        return Self(retention: retention, column: column, interval: interval, batchSize: batchSize)
    }
}

extension OutboxStageConfig {
    /// Debezium's default topic, `outbox.event.${<aggregate type column>}`.
    public static func defaultTopic(aggregateTypeColumn: String = "aggregatetype") throws(ExpressionSyntaxError) -> EventTemplate {
        try EventTemplate.parse("outbox.event.${\(aggregateTypeColumn)}")
    }

    enum Fields {
        static let table = FieldSpec("table", .tableName, .required, doc: "The outbox table, schema.table; it must be one of source.postgres.tables.")
        static let columns = FieldSpec(
            "columns", Columns.value, .optional, doc: "Column names, when they differ from Debezium's defaults.")
        static let topic = FieldSpec(
            "topic", .topicTemplate, .optional,
            doc: "Topic of each event, with ${column} parts read from the row. Default: outbox.event.${<aggregate_type column>}.")
        static let headers = FieldSpec(
            "headers", .entries(keyedBy: "a column of the outbox table", of: .string), .optional,
            doc: "Extra columns copied into record headers: column: header-name.")
        static let onUpdate = FieldSpec(
            "on_update", .enumeration, .defaulted(OnUpdate.warnDrop, shown: .string("warn_drop")),
            doc: "What an UPDATE of an outbox row does: warn_drop (log and drop), drop, or fail.")
        static let onDelete = FieldSpec(
            "on_delete", .enumeration, .defaulted(OnDelete.drop, shown: .string("drop")),
            doc: "What a DELETE of an outbox row does (deleting sent rows is the usual cleanup): drop, warn_drop or fail.")
        static let tombstone = FieldSpec(
            "tombstone_on_empty_payload", .boolean, .defaulted(false, shown: .scalar("false", kind: .bool, secret: false)),
            doc: "Emit a tombstone (null value) for a row whose payload is null or empty.")
        static let cleanup = FieldSpec(
            "cleanup", Cleanup.value, .optional,
            doc: "Delete published rows once durable in the sink and older than a retention: {retention: 7d, column: created_at, interval: 30s, batch_size: 1000}. Off when absent.")
    }

    static let spec = ObjectSpec(
        name: "outbox stage",
        doc: "Turns outbox-table rows into events with Debezium EventRouter semantics and defaults.",
        fields: [Fields.table.schema, Fields.columns.schema, Fields.topic.schema, Fields.headers.schema,
                 Fields.onUpdate.schema, Fields.onDelete.schema, Fields.tombstone.schema, Fields.cleanup.schema],
        shorthand: "table")

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> OutboxStageConfig? {
        let table = reader.read(Fields.table, &context)
        if let table, let tables = context.sourceTables, !tables.contains(table), let node = reader.node(Fields.table.name) {
            context.log.error(
                .invalidValue, "the outbox table \(table) is not one of source.postgres.tables", at: node.location,
                length: table.description.count, hint: "add it to tables: [\((tables.map(\.description) + [table.description]).joined(separator: ", "))]")
        }
        let columns: Columns?
        if reader.has(Fields.columns.name) {
            columns = reader.read(Fields.columns, &context)
        } else {
            columns = Columns()
        }
        var topic = reader.read(Fields.topic, &context)
        if !reader.has(Fields.topic.name), let columns {
            // The default follows a renamed aggregate-type column.
            topic = try? defaultTopic(aggregateTypeColumn: columns.aggregateType)
            reader.show(Fields.topic.name, .string(topic?.source ?? ""))
            if topic == nil {
                context.log.error(.invalidValue, "the aggregate_type column '\(columns.aggregateType)' cannot be used in the default topic",
                                  at: reader.location, hint: "set topic explicitly")
            }
        }
        let headers = reader.read(Fields.headers, &context) ?? []
        let onUpdate = reader.read(Fields.onUpdate, &context), onDelete = reader.read(Fields.onDelete, &context)
        let tombstone = reader.read(Fields.tombstone, &context)
        let cleanup = reader.read(Fields.cleanup, &context)
        if reader.has(Fields.cleanup.name), cleanup == nil { return nil }
        guard let table, let columns, let topic, let onUpdate, let onDelete, let tombstone else { return nil }
        return OutboxStageConfig(
            table: table, columns: columns, topic: topic, headers: headers.map { HeaderColumn(column: $0.key, header: $0.value) },
            onUpdate: onUpdate, onDelete: onDelete, tombstoneOnEmptyPayload: tombstone, cleanup: cleanup)
    }
}
