import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

struct MissingTestDatabase: Error, CustomStringConvertible {
    var description: String {
        "OUTFLOW_TEST_PG_URL is not set: this test needs the throwaway PostgreSQL that `make test` starts (or: scripts/pg-sandbox run -- swift test)"
    }
}

/// An outbox table, publication and slot of one test's own on the sandbox server, and a log
/// directory in a temporary folder.
final class OutboxHarness {
    let url: ConnectionString
    let sql: PostgresConnection
    let suffix = "\(UInt32.random(in: 0...UInt32.max))"
    let logDirectory: String
    var table: String { "outbox_\(suffix)" }
    var slot: String { "pl_slot_\(suffix)" }
    var publication: String { "pl_pub_\(suffix)" }

    init() throws {
        guard let text = ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_URL"], !text.isEmpty else { throw MissingTestDatabase() }
        url = try ConnectionString(text)
        sql = try PostgresConnection(url)
        logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-pipeline-\(suffix)").path
        try sql.execute("""
            CREATE TABLE \(table) (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
                                   type text NOT NULL, payload jsonb, created_at timestamptz DEFAULT now())
            """)
        let replication = try PostgresConnection(url, mode: .replication)
        _ = try replication.ensurePublication(publication, tables: [TableName(schema: "public", name: table)], operations: [.insert])
        _ = try replication.ensureLogicalReplicationSlot(slot)
    }

    deinit {
        _ = try? sql.execute("SELECT pg_drop_replication_slot('\(slot)') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '\(slot)' AND NOT active)")
        _ = try? sql.execute("DROP PUBLICATION IF EXISTS \(publication)")
        try? FileManager.default.removeItem(atPath: logDirectory)
    }

    func insert(id: String = UUID().uuidString.lowercased(), type: String = "order", key: String, eventType: String = "Created", payload: String? = "{}") -> String {
        let payloadSQL = payload.map { "'\($0)'" } ?? "NULL"
        return "INSERT INTO \(table) VALUES ('\(id)', '\(type)', '\(key)', '\(eventType)', \(payloadSQL));"
    }

    func stages(dedupe: Bool = true) throws -> CompiledStageGraph {
        try OutboxScript.graph(table: table, dedupeKey: dedupe ? "id" : nil)
    }

    /// The harness's replication session: without logical messages, because other tests'
    /// transactional `pg_logical_emit_message` calls reach every slot of the database, each in
    /// its own Begin/Commit, and would count here as source transactions.
    func replicationSettings() -> ReplicationSettings {
        var replication = ReplicationSettings(connectionString: url, slot: slot, publications: [publication])
        replication.statusInterval = .milliseconds(100)
        replication.messages = false
        return replication
    }

    /// Runs the pipeline until it has read `transactions` source transactions (bounded by
    /// `seconds`), then stops it the way SIGTERM does.
    @discardableResult
    func run(
        untilTransactions transactions: Int, partitions: Int32 = 3, changelog: Bool = false, streaming: Bool = false, seconds: Double = 30,
        graph: CompiledStageGraph? = nil, deadLetterOnFailure: Bool = true, expectStagingWhileStreaming: Bool? = nil,
        until enough: ((RunnerProgress) -> Bool)? = nil
    ) throws -> RunnerProgress {
        let writer = try LogWriter.open(directory: logDirectory)
        defer { writer.close() }
        var settings = PipelineRunner.Settings(pipelineName: "test", deadLetterTopic: "test.dead-letter")
        settings.partitions = partitions
        settings.changelog = changelog
        settings.deadLetterOnFailure = deadLetterOnFailure
        let runner = try PipelineRunner(graph: try graph ?? stages(), writer: writer, settings: settings)
        if let expectStagingWhileStreaming { #expect(runner.stagesStreamedChanges == expectStagingWhileStreaming) }
        var replication = replicationSettings()
        if streaming {
            replication.streaming = true
            replication.sessionSettings = ["logical_decoding_work_mem": "64kB"]  // stream after ~64 kB
        }
        let source = try ReplicationSession(settings: replication, durable: runner.committedPosition)
        defer { source.close() }
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(seconds * 1000)))
        try runner.run(source: ReplicationSource(source), shouldStop: {
            // Other tests' large transactions reach a streaming session too (as empty streamed
            // transactions): where that matters, `enough` says when to stop instead.
            let done = enough?(runner.progress) ?? (runner.progress.sourceTransactions + runner.progress.skippedTransactions >= transactions)
            return done || ContinuousClock.now >= deadline
        })
        return runner.progress
    }

    /// Every record of every topic, read-committed, by topic and partition.
    func committedRecords() throws -> [TopicPartition: [StoredRecord]] {
        let reader = try LogReader(directory: logDirectory)
        var result: [TopicPartition: [StoredRecord]] = [:]
        for partition in try reader.partitions() {
            let partitionReader = try reader.open(partition, isolation: .readCommitted)
            var records: [StoredRecord] = []
            while true {
                let batch = try partitionReader.poll(maxRecords: 1000)
                if batch.isEmpty { break }
                records += batch
            }
            result[partition] = records
        }
        return result
    }

    func confirmedFlush() throws -> LSN? {
        try sql.execute("SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = '\(slot)'").value("lsn").flatMap { LSN($0) }
    }
}

extension StoredRecord {
    func headerText(_ name: String) -> String? { record.header(name).map { String(decoding: $0, as: UTF8.self) } }
    var keyText: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    var valueText: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}
