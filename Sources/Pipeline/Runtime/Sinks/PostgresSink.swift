import BinaryIO
import FaultInjection
import Foundation
import Logging
import PGOutput
import PostgresSource
import SegmentLog

/// The Postgres sink: writes the pipeline's records into tables of another PostgreSQL database
/// (a consumer's inbox) through libpq — an append table of events and/or the newest value per
/// (topic, key) —, deduplicated by event id through a processed-messages table.
///
/// Transactional (exactly-once): one target transaction per group — BEGIN at the first write,
/// the rows in batches (one statement each, arrays unnested on the server), then the checkpoint
/// row, then COMMIT in `commit`, which returns only once the target committed; the runner
/// acknowledges nothing before. Plain (at-least-once, at-most-once): each batch is one statement
/// of its own (so atomic), with `ON CONFLICT DO NOTHING` on the id; `sync(recording:)` writes the
/// position after. A session advisory lock keyed by the pipeline's name keeps a second instance
/// out.
///
/// A lost connection is retried with doubling backoff and a log line; the open transaction's rows
/// are kept (up to `retainedBytesLimit`) and written again into a new transaction — the processed
/// ids make that safe even when the lost call was the COMMIT and it went through. Anything else
/// (a permission, a missing table) stops the pipeline with the SQLSTATE and the server's hint.
public final class PostgresSink: Sink {
    public struct Settings: Sendable {
        public var connectionString: ConnectionString
        public var schema: String
        public var eventsTable: String?
        public var upsertTable: String?
        public var processedWindow: Duration
        public var createTables: Bool
        public var pipelineName: String
        public var databaseName: String
        public var configHash: String
        /// Rows sent per statement.
        public var batchRecords = 2000
        /// An open transaction up to this size is kept, to write it again after a reconnect.
        public var retainedBytesLimit = 64 << 20
        /// The longest pause between retries.
        public var maximumBackoff: Duration = .seconds(30)
        /// How long a start waits for another instance's lock (a killed process's session may
        /// linger a moment on the server) before it fails.
        public var lockWait: Duration = .seconds(10)
        /// Processed ids older than the window are deleted at most this often, `pruneBatch`
        /// rows a statement, at most `pruneBatches` statements a round.
        public var pruneInterval: Duration = .seconds(1)
        public var pruneBatch = 5000
        public var pruneBatches = 4

        public init(
            connectionString: ConnectionString, schema: String, eventsTable: String?, upsertTable: String?, processedWindow: Duration,
            createTables: Bool, pipelineName: String, databaseName: String, configHash: String
        ) {
            self.connectionString = connectionString
            self.schema = schema
            self.eventsTable = eventsTable
            self.upsertTable = upsertTable
            self.processedWindow = processedWindow
            self.createTables = createTables
            self.pipelineName = pipelineName
            self.databaseName = databaseName
            self.configHash = configHash
        }
    }

    let settings: Settings
    let statements: PostgresSinkStatements
    let logger: Logger
    public var transactional = true
    public private(set) var recordsInGroup = 0
    public private(set) var groupBytes = 0
    public private(set) var highestWritten: LSN?

    private var connection: PostgresConnection?
    /// Rows not yet sent.
    private var buffered: [InboxRow] = []
    private var highestBuffered: LSN?
    /// A target transaction is open (transactional mode).
    private var inTransaction = false
    /// The open transaction's rows already sent, to send again after a reconnect; nil once
    /// they outgrew `retainedBytesLimit`.
    private var sentInTransaction: [InboxRow]? = []
    private var sentBytes = 0
    /// Numbers the records of one source transaction, for ids made from the position.
    private var ordinal: (lsn: LSN, xid: UInt32, next: Int32)?
    private var positionHeaders = PositionHeaders()
    private var lastPrune: ContinuousClock.Instant?
    /// What the checkpoint row said when last read (nil again after each commit or position).
    private var stored: StoredPositions?

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        statements = PostgresSinkStatements(schema: settings.schema, eventsTable: settings.eventsTable, upsertTable: settings.upsertTable)
    }

    /// Closes the connection: the open transaction (if any) rolls back and the pipeline's lock
    /// on the target is released.
    public func close() {
        connection = nil
        inTransaction = false
    }

    /// The target, for messages (never the password).
    var target: String { "\(settings.connectionString.redacted), schema \(settings.schema)" }

    // MARK: Records

    public func prepare(_ event: PipelineEvent) throws(SinkError) -> PendingRecord {
        var event = event
        var envelopeTail: DebeziumEnvelope.Tail?
        if event.topic == nil, let change = event.change {
            envelopeTail = DebeziumEnvelope.fillAwaitingCommit(&event, change: change, pipelineName: settings.pipelineName)
        }
        guard let topic = event.topic else {
            throw SinkError(.storage, "an event reached the sink without a topic (table \(event.origin.table)): a stage must set one")
        }
        if settings.eventsTable == nil, event.key == nil {
            throw SinkError(.invalidEvent, "a record without a key cannot be upserted (topic \(topic)), and sink.postgres has no events table")
        }
        let topicPartition: TopicPartition
        do { topicPartition = try TopicPartition(topic: topic, partition: 0) } catch {
            throw SinkError(.invalidEvent, "invalid topic \"\(topic)\": \(error)", underlying: error)
        }
        var headers = event.headers
        headers.removeAll { $0.key == LogSink.lsnHeader || $0.key == LogSink.xidHeader }
        if let envelopeTail {
            return PendingRecord(
                topicPartition: topicPartition, bodyPrefix: [],
                envelope: PendingEnvelope(key: event.key, valuePrefix: event.value ?? [], headers: headers, tail: envelopeTail))
        }
        return PendingRecord(topicPartition: topicPartition, bodyPrefix: try LogSink.bodyPrefix(key: event.key, value: event.value, headers: headers))
    }

    public func write(_ pending: PendingRecord, commit: SourceCommit) throws(SinkError) {
        var body = pending.bodyPrefix
        if let envelope = pending.envelope {
            let value = envelope.valuePrefix
                + DebeziumEnvelope.tail(envelope.tail, commit: commit, pipelineName: settings.pipelineName, databaseName: settings.databaseName)
            body = try LogSink.bodyPrefix(key: envelope.key, value: value, headers: envelope.headers)
        }
        // The record the log sink would append, read back into its parts.
        let encoded = EncodedRecord(timestamp: commit.time.unixMicroseconds / 1000, body: body, trailer: positionHeaders.encoded(for: commit))
        let record: Record
        do { record = try encoded.decoded() } catch {
            throw SinkError(.invalidEvent, "the record cannot be encoded: \(error)", underlying: error)
        }
        let number: Int32
        if let ordinal, ordinal.lsn == commit.lsn, ordinal.xid == commit.xid { number = ordinal.next } else { number = 0 }
        ordinal = (commit.lsn, commit.xid, number + 1)
        let headers = record.headers.filter { $0.key != LogSink.lsnHeader && $0.key != LogSink.xidHeader }
        let row = InboxRow(
            eventID: InboxRow.eventID(idHeader: record.header("id"), commitLSN: commit.lsn, ordinal: number), topic: pending.topicPartition.topic,
            key: record.key, value: record.value, headersJSON: InboxRow.headersText(headers), commitLSN: commit.lsn, xid: commit.xid,
            commitTime: commit.time, ordinal: number)
        buffered.append(row)
        highestBuffered = max(highestBuffered ?? commit.lsn, commit.lsn)
        recordsInGroup += 1
        groupBytes += row.size
        if buffered.count >= settings.batchRecords { try flush() }
    }

    public func writeChangelog(_ change: SourceChange, origin: EventOrigin) throws(SinkError) {
        // The loader refuses a changelog with sink.postgres; reaching here is a bug.
        throw SinkError(.storage, "the changelog is kept in sink.log only")
    }

    // MARK: Group ends

    /// Sends the buffered rows: into the open transaction (begun here), or as one statement of
    /// their own.
    public func flush() throws(SinkError) {
        guard !buffered.isEmpty else { return }
        var rows = buffered
        // An id twice in one statement would leave which one is written to the server.
        var ids = Set<String>()
        rows.removeAll { !ids.insert($0.eventID).inserted }
        try withConnection("writing \(rows.count) row(s)") { connection throws(PostgresError) in
            if self.transactional, !self.inTransaction {
                try connection.execute("BEGIN")
                self.inTransaction = true
                self.sentInTransaction = []
                self.sentBytes = 0
            }
            try connection.execute(self.statements.writeRows, parameters: InboxRow.parameters(rows, pipeline: self.settings.pipelineName))
        }
        if transactional, sentInTransaction != nil {
            sentBytes += rows.reduce(0) { $0 + $1.size }
            if sentBytes > settings.retainedBytesLimit { sentInTransaction = nil } else { sentInTransaction! += rows }
        }
        buffered.removeAll(keepingCapacity: true)
        stored = nil
        if let buffered = highestBuffered { highestWritten = max(highestWritten ?? buffered, buffered) }
        highestBuffered = nil
    }

    public func commit(_ checkpoint: Checkpoint) throws(SinkError) -> Bool {
        try flush()
        endGroup()
        guard inTransaction else { return false }
        let keepsHistory = !checkpoint.stageChanges.isEmpty || checkpoint.snapshot != nil
        try withConnection("committing the group") { connection throws(PostgresError) in
            try connection.execute(self.statements.commitCheckpoint, parameters: [
                .text(self.settings.pipelineName), .lsn(checkpoint.sourceEnd), .bytea(checkpoint.encoded()), .text(self.settings.configHash),
                .bool(keepsHistory),
            ])
            CrashPoint.hit("sink.postgres.before-commit")
            try connection.execute("COMMIT")
        }
        CrashPoint.hit("sink.postgres.after-commit")
        stored = nil
        inTransaction = false
        sentInTransaction = []
        sentBytes = 0
        pruneIfDue()
        return true
    }

    /// Plain writes are committed statement by statement: this records `position` (at-least-once)
    /// after them. Without a position (at-most-once) each write already recorded the highest
    /// source position it holds.
    public func sync(recording position: LSN?) throws(SinkError) {
        guard let position else { return }
        try withConnection("recording the position") { connection throws(PostgresError) in
            try connection.execute(self.statements.recordPosition, parameters: [.text(self.settings.pipelineName), .lsn(position)])
        }
        stored = nil
        pruneIfDue()
    }

    public func endGroup() {
        recordsInGroup = 0
        groupBytes = 0
    }

    public func abort() throws(SinkError) {
        buffered.removeAll()
        highestBuffered = nil
        ordinal = nil
        endGroup()
        guard inTransaction else { return }
        inTransaction = false
        sentInTransaction = []
        sentBytes = 0
        // A lost connection has rolled the transaction back already.
        guard let connection, connection.isConnected else { return }
        do { try connection.execute("ROLLBACK") } catch {
            logger.warning("postgres sink: the rollback failed; reconnecting", metadata: ["outflow.error": "\(error)"])
            self.connection = nil
        }
    }

    /// Deletes processed ids older than the window, a few small batches at a time, outside the
    /// group's transaction; a failure is a warning (the next round tries again).
    private func pruneIfDue() {
        let now = ContinuousClock.now
        if let lastPrune, now - lastPrune < settings.pruneInterval { return }
        lastPrune = now
        guard let connection else { return }
        let (seconds, attoseconds) = settings.processedWindow.components
        let window = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        do {
            for _ in 0..<settings.pruneBatches {
                let result = try connection.execute(statements.pruneProcessed, parameters: [
                    .text(settings.pipelineName), .int8(window), .int8(Int64(settings.pruneBatch)),
                ])
                if (Int(result.commandTag.split(separator: " ").last ?? "") ?? 0) < settings.pruneBatch { break }
            }
            try connection.execute(statements.pruneHistory, parameters: [.text(settings.pipelineName), .int8(window)])
        } catch {
            logger.warning("postgres sink: pruning processed ids failed; trying again later", metadata: ["outflow.error": "\(error)"])
        }
    }

    // MARK: What the target holds

    struct StoredPositions {
        var checkpoint: Checkpoint?
        var recorded: LSN?
        var highest: LSN?
    }

    private func storedPositions() throws(SinkError) -> StoredPositions {
        if let stored { return stored }
        let result = try withConnection("reading the checkpoint") { connection throws(PostgresError) in
            try connection.execute(self.statements.readCheckpoint, parameters: [.text(self.settings.pipelineName)])
        }
        var positions = StoredPositions()
        if !result.rows.isEmpty {
            if let text = result.value("checkpoint") {
                positions.checkpoint = try Self.checkpoint(fromHex: text, target: target)
            }
            positions.recorded = result.value("recorded").flatMap { LSN($0) }
            positions.highest = result.value("highest").flatMap { LSN($0) }
            if let hash = result.value("config_hash"), hash != settings.configHash {
                logger.info("the pipeline file changed since the last checkpoint", metadata: ["outflow.config_hash": "\(hash) → \(settings.configHash)"])
            }
        }
        stored = positions
        return positions
    }

    static func checkpoint(fromHex text: String, target: String) throws(SinkError) -> Checkpoint {
        guard let bytes = Self.bytes(fromByteaHex: text) else {
            throw SinkError(.unreadableState, "the checkpoint row in \(target) is not bytea hex")
        }
        do { return try Checkpoint(decoding: bytes) } catch {
            throw SinkError(.unreadableState, "the checkpoint row in \(target) cannot be read: \(error)", underlying: error)
        }
    }

    /// bytea's text output (`\x` and hex digits).
    static func bytes(fromByteaHex text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count >= 2, digits[0] == UInt8(ascii: "\\"), digits[1] == UInt8(ascii: "x"), digits.count % 2 == 0 else { return nil }
        func nibble(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2 - 1)
        var index = 2
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    public func lastCheckpoint() throws(SinkError) -> Checkpoint? { try storedPositions().checkpoint }

    /// The checkpoints that carried stage state, within the processed window, oldest first
    /// (and always the newest one).
    public func checkpointHistory() throws(SinkError) -> [Checkpoint] {
        let result = try withConnection("reading the checkpoint history") { connection throws(PostgresError) in
            try connection.execute(self.statements.readHistory, parameters: [.text(self.settings.pipelineName)])
        }
        var history: [Checkpoint] = []
        for row in result.rows {
            guard let text = row[0] else { continue }
            history.append(try Self.checkpoint(fromHex: text, target: target))
        }
        if let last = try lastCheckpoint(), history.last != last { history.append(last) }
        return history
    }

    public func recordedPosition() throws(SinkError) -> LSN? { try storedPositions().recorded }

    /// Each plain write records the highest source commit LSN it wrote, in the same statement.
    public func highestSourcePosition() throws(SinkError) -> LSN? { try storedPositions().highest }

    // MARK: The connection

    /// Runs `body` on the target. A lost (or refused) connection is retried with doubling
    /// backoff: reconnect, take the lock again, and in a transaction BEGIN and send the rows it
    /// held before `body` runs again. Other errors stop the pipeline.
    @discardableResult
    private func withConnection<T>(_ what: String, _ body: (PostgresConnection) throws(PostgresError) -> T) throws(SinkError) -> T {
        var backoff = Backoff(maximum: settings.maximumBackoff)
        while true {
            do {
                let connection = try connected()
                return try body(connection)
            } catch let error where Self.isTransient(error) {
                connection = nil
                if inTransaction, sentInTransaction == nil {
                    throw SinkError(
                        .storage, "the connection to \(target) was lost (\(error)) and the open transaction was too large to write again from memory; "
                            + "the pipeline stops and resumes from its last committed checkpoint when restarted", underlying: error)
                }
                logger.warning("postgres sink: \(what) failed, the target is unreachable; retrying in \(backoff.next)", metadata: ["outflow.error": "\(error)"])
                backoff.wait()
            } catch let error as SinkError {
                throw error
            } catch {
                throw Self.sinkError(error, what: what, target: target)
            }
        }
    }

    private func connected() throws(any Error) -> PostgresConnection {
        if let connection, connection.isConnected { return connection }
        let fresh = try PostgresConnection(settings.connectionString, applicationName: "outflow \(settings.pipelineName)")
        try lock(fresh)
        try prepareTables(fresh)
        if inTransaction {
            // The transaction died with the old connection: write what it held again.
            try fresh.execute("BEGIN")
            let rows = sentInTransaction ?? []
            var start = 0
            while start < rows.count {
                let batch = Array(rows[start..<min(rows.count, start + settings.batchRecords)])
                try fresh.execute(statements.writeRows, parameters: InboxRow.parameters(batch, pipeline: settings.pipelineName))
                start += settings.batchRecords
            }
            if !rows.isEmpty { logger.info("postgres sink: reconnected; wrote the open group's \(rows.count) row(s) again") }
        }
        connection = fresh
        return fresh
    }

    /// One running instance per pipeline and target: a session advisory lock keyed by the name.
    private func lock(_ connection: PostgresConnection) throws(any Error) {
        let key = PostgresParameter.text("outflow.sink.postgres:" + settings.pipelineName)
        let deadline = ContinuousClock.now.advanced(by: settings.lockWait)
        var announced = false
        while try connection.execute(PostgresSinkStatements.tryLock, parameters: [key]).value("locked") != "t" {
            let holder = try connection.execute(PostgresSinkStatements.lockHolder, parameters: [key]).value("pid") ?? "?"
            guard ContinuousClock.now < deadline else {
                throw SinkError(
                    .postgresSinkLocked, "another instance of pipeline \(settings.pipelineName) is writing into \(target) "
                        + "(server process \(holder) holds its lock); stop it first — two writers would interleave their groups")
            }
            if !announced {
                logger.warning("postgres sink: pipeline \(settings.pipelineName)'s lock on the target is held by server process \(holder); waiting up to \(settings.lockWait)")
                announced = true
            }
            sleep(for: .milliseconds(200))
        }
    }

    private func prepareTables(_ connection: PostgresConnection) throws(any Error) {
        if settings.createTables {
            for statement in statements.creation { try connection.execute(statement) }
            return
        }
        let problems = try Self.missing(statements, on: connection)
        if !problems.isEmpty {
            throw SinkError(
                .postgresSinkSchema, "sink.postgres cannot write into \(target): \(problems.joined(separator: "; "))"
                    + "\nhint: create them (docs/postgres-sink.md has the DDL), grant the privileges, or set create_tables: true")
        }
    }

    /// What the target lacks for the sink: tables that do not exist, privileges not granted.
    static func missing(_ statements: PostgresSinkStatements, on connection: PostgresConnection) throws(PostgresError) -> [String] {
        var problems: [String] = []
        for (table, privileges) in statements.required {
            let exists = try connection.execute("SELECT to_regclass($1) IS NOT NULL AS present", parameters: [.text(table)]).value("present") == "t"
            guard exists else {
                problems.append("table \(table) does not exist")
                continue
            }
            // has_table_privilege with a list is true when any one is held: ask for each.
            for privilege in privileges.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let granted = try connection.execute("SELECT has_table_privilege($1, $2) AS granted", parameters: [.text(table), .text(privilege)])
                if granted.value("granted") != "t" { problems.append("the role lacks \(privilege) on \(table)") }
            }
        }
        return problems
    }

    /// What `validate --online` reports for `sink.postgres`: connects, and says what is missing
    /// when the sink may not create it.
    public static func checkTarget(_ config: PostgresSinkConfig) throws(PostgresError) -> (lines: [String], problems: [String]) {
        let url = try ConnectionString(config.url.value)
        let connection = try PostgresConnection(url)
        let statements = PostgresSinkStatements(schema: config.schema, eventsTable: config.eventsTable, upsertTable: config.upsertTable)
        let problems = try missing(statements, on: connection)
        if config.createTables {
            let canCreate = try connection.execute(
                "SELECT has_database_privilege(current_database(), 'CREATE') OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok",
                parameters: [.text(config.schema)]).value("ok") == "t"
            return (["sink.postgres: \(url.redacted) reachable" + (problems.isEmpty ? ", tables present" : "; run creates what is missing: \(problems.joined(separator: "; "))")],
                    canCreate ? [] : ["the role may not create schema \(config.schema) in the target database (GRANT CREATE ON DATABASE …, or create it)"])
        }
        return (["sink.postgres: \(url.redacted) reachable"], problems)
    }

    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        switch error.code {
        case .connectionLost: return true
        case .connectionFailed:
            let permanent = ["password authentication failed", "no password supplied", "does not exist", "pg_hba.conf", "permission denied"]
            return !permanent.contains { error.message.contains($0) }
        default:
            // The server going down under a statement (admin shutdown, crash recovery).
            return ["57P01", "57P02", "57P03", "08006", "08003", "08000"].contains(error.sqlState ?? "")
        }
    }

    static func sinkError(_ error: any Error, what: String, target: String) -> SinkError {
        guard let error = error as? PostgresError else { return SinkError(.storage, "\(what) into \(target) failed: \(error)", underlying: error) }
        var hint = error.hint
        if hint == nil {
            switch error.sqlState {
            case "42501": hint = "grant the role the privileges named above on the sink's tables (docs/postgres-sink.md lists them)"
            case "42P01", "3F000": hint = "create the tables (docs/postgres-sink.md has the DDL) or set create_tables: true"
            default: break
            }
        }
        let text = PostgresError(code: error.code, message: error.message, sqlState: error.sqlState, detail: error.detail, hint: hint)
        return SinkError(error.sqlState == "42501" ? .postgresSinkSchema : .storage, "\(what) into \(target) failed: \(text)", underlying: error)
    }
}

extension SinkError.Code {
    /// Another instance of the pipeline holds the target's lock.
    public static let postgresSinkLocked = SinkError.Code("postgres_sink_locked")
    /// The target lacks a table or a privilege the sink needs.
    public static let postgresSinkSchema = SinkError.Code("postgres_sink_schema")
}

extension PostgresSink.Settings {
    /// The sink's settings from `sink.postgres`.
    public init(_ config: PostgresSinkConfig, runner: PipelineRunner.Settings, configHash: String) throws(PostgresError) {
        self.init(
            connectionString: try ConnectionString(config.url.value), schema: config.schema, eventsTable: config.eventsTable,
            upsertTable: config.upsertTable, processedWindow: config.processedWindow.duration, createTables: config.createTables,
            pipelineName: runner.pipelineName, databaseName: runner.databaseName, configHash: configHash)
        batchRecords = runner.batchRecords
    }
}
