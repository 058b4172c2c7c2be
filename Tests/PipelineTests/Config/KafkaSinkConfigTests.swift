import Foundation
import KafkaClient
import Testing
@testable import Pipeline

/// `sink.kafka`: the alternative to `sink.log`, with its defaults, its security block and the
/// checks that keep secrets out of the file and the sink's own properties out of the passthrough.
@Suite struct KafkaSinkConfigTests {
    static func file(sink: String, extra: String = "") -> String {
        """
        version: 1
        name: orders
        source:
          postgres:
            url: ${env:OUTFLOW_PG_URL}
            tables: [public.outbox]
        stages:
          - outbox: {table: public.outbox}
        sink:
        \(sink.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        \(extra)
        """
    }

    static let environment = ConfigEnvironment.fixed([
        "OUTFLOW_PG_URL": "postgres://outflow@db/shop", "KAFKA_PASSWORD": "kafka-pw-do-not-print", "KAFKA_USER": "pipeline",
    ])

    @Test func theDefaults() throws {
        let config = try PipelineFile.parse(yaml: Self.file(sink: "kafka: {bootstrap_servers: 'k1:9092,k2:9092'}"), environment: Self.environment)
        let kafka = try #require(config.sink.kafka)
        #expect(config.sink.log == nil)
        #expect(kafka.bootstrapServers.value == "k1:9092,k2:9092")
        #expect(kafka.compression == .zstd)
        #expect(kafka.transactionalID == "outflow-orders")
        #expect(kafka.checkpointTopic == "__outflow_checkpoints")
        #expect(kafka.securityProtocol == "plaintext")
        #expect(kafka.minCommitInterval.milliseconds == 100)
        #expect(kafka.transactionTimeout.milliseconds == 60_000)
        #expect(config.explanation.contains("sink: kafka k1:9092,k2:9092, transactional.id outflow-orders, compression zstd"))
        #expect(config.resolved["sink"]?["kafka"]?["transactional_id"] == .string("outflow-orders"))
        #expect(kafka.stateDir == ".outflow-state/orders")
        #expect(kafka.checkpointReplicationFactor == nil)
        #expect(config.resolved["sink"]?["kafka"]?["state_dir"] == .string(".outflow-state/orders"))
        #expect(config.explanation.contains("checkpoints in __outflow_checkpoints, stage state in .outflow-state/orders"))
    }

    @Test func theStateDirectoryAndTheCheckpointTopicsReplication() throws {
        let config = try PipelineFile.parse(
            yaml: Self.file(sink: "kafka: {bootstrap_servers: b:9092, state_dir: /var/lib/outflow/orders, checkpoint_replication_factor: 2}"),
            environment: Self.environment)
        let kafka = try #require(config.sink.kafka)
        #expect(kafka.stateDir == "/var/lib/outflow/orders")
        #expect(kafka.stateDirectory(workingDirectory: "/srv") == "/var/lib/outflow/orders")
        #expect(kafka.checkpointReplicationFactor == 2)
        #expect(config.explanation.contains("stage state in /var/lib/outflow/orders"))
        let settings = KafkaSink.Settings(kafka, runner: PipelineRunner.Settings(pipelineName: "orders", deadLetterTopic: "d"), configHash: config.configHash)
        #expect(settings.checkpointReplicationFactor == 2)
        let relative = try #require(try PipelineFile.parse(yaml: Self.file(sink: "kafka: {bootstrap_servers: b:9092, state_dir: state}"), environment: Self.environment).sink.kafka)
        #expect(relative.stateDirectory(workingDirectory: "/srv") == "/srv/state")

        let empty = Self.file(sink: "kafka: {bootstrap_servers: b:9092, state_dir: ''}")
        #expect(Fixtures.diagnostics(empty, environment: Self.environment).map(\.message) == ["empty string"])
        let zero = Self.file(sink: "kafka: {bootstrap_servers: b:9092, checkpoint_replication_factor: 0}")
        #expect(Fixtures.diagnostics(zero, environment: Self.environment).count == 1)
    }

    /// `outflow run` creates the state directory when missing and refuses, with the path and the
    /// reason, one it cannot create or that is not a directory.
    @Test func theStateDirectoryIsCreatedOrRefusedClearly() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-state-dir-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        func kafka(_ stateDir: String) throws -> KafkaSinkConfig {
            try #require(try PipelineFile.parse(yaml: Self.file(sink: "kafka: {bootstrap_servers: b:9092, state_dir: '\(stateDir)'}"), environment: Self.environment).sink.kafka)
        }
        let made = try kafka("nested/state").preparedStateDirectory(workingDirectory: base)
        #expect(made == base + "/nested/state")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: made, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(try FileManager.default.contentsOfDirectory(atPath: made).isEmpty, "the write check left its file")
        #expect(try kafka(made).preparedStateDirectory(workingDirectory: "/nowhere") == made)  // exists: fine

        FileManager.default.createFile(atPath: base + "/plain-file", contents: Data("x".utf8))
        let notDirectory = #expect(throws: PipelineError.self) { try kafka("plain-file").preparedStateDirectory(workingDirectory: base) }
        #expect(notDirectory?.code == .configuration)
        #expect(notDirectory?.message.contains("sink.kafka.state_dir plain-file (\(base)/plain-file) is not a directory") == true, "\(String(describing: notDirectory))")
        let underFile = #expect(throws: PipelineError.self) { try kafka("plain-file/state").preparedStateDirectory(workingDirectory: base) }
        #expect(underFile?.message.contains("cannot be created") == true, "\(String(describing: underFile))")
    }

    @Test func securityAndPassthroughReachLibrdkafkaButNoMessage() throws {
        let config = try PipelineFile.parse(yaml: Self.file(sink: """
            kafka:
              bootstrap_servers: broker:9093
              compression: lz4
              transactional_id: orders-eu-1
              security:
                sasl: {mechanism: SCRAM-SHA-256, username: '${env:KAFKA_USER}', password: '${env:KAFKA_PASSWORD}'}
                tls: {ca_file: /etc/ssl/kafka-ca.pem}
              producer: {linger.ms: '20', message.timeout.ms: '120000'}
            """), environment: Self.environment)
        let kafka = try #require(config.sink.kafka)
        #expect(kafka.securityProtocol == "sasl_ssl")
        #expect(kafka.sasl?.mechanism == .scramSHA256)
        #expect(kafka.sasl?.password.value == "kafka-pw-do-not-print")
        #expect(kafka.tls?.caFile == "/etc/ssl/kafka-ca.pem")
        let settings = KafkaSink.Settings(kafka, runner: PipelineRunner.Settings(pipelineName: "orders", deadLetterTopic: "d"), configHash: config.configHash)
        #expect(settings.producer["sasl.password"] == "kafka-pw-do-not-print")
        #expect(settings.producer["sasl.mechanisms"] == "SCRAM-SHA-256")
        #expect(settings.producer["security.protocol"] == "sasl_ssl")
        #expect(settings.producer["compression.codec"] == "lz4")
        #expect(settings.producer["linger.ms"] == "20")
        #expect(settings.producer["transaction.timeout.ms"] == "60000")
        #expect(settings.reader["sasl.password"] == "kafka-pw-do-not-print")
        #expect(settings.reader["compression.codec"] == nil)
        #expect(settings.transactionalID == "orders-eu-1")
        for shown in [config.explanation, config.resolved.json.rendered(), config.graphDOT] {
            #expect(!shown.contains("kafka-pw-do-not-print"))
        }
        #expect(config.explanation.contains("${env:KAFKA_PASSWORD}") || config.resolved.json.rendered().contains("${env:KAFKA_PASSWORD}"))
    }

    @Test func aPasswordWrittenIntoTheFileIsRefused() {
        let text = Self.file(sink: """
            kafka:
              bootstrap_servers: broker:9093
              security:
                sasl: {username: u, password: hunter2}
            """)
        let diagnostics = Fixtures.diagnostics(text, environment: Self.environment)
        #expect(diagnostics.map(\.message) == ["password must be given by reference"])
        #expect(diagnostics.first?.location == Fixtures.location(of: "password", in: text))
    }

    @Test func exactlyOneSink() {
        let both = Self.file(sink: "log: {dir: d}\nkafka: {bootstrap_servers: b:9092}")
        #expect(Fixtures.diagnostics(both, environment: Self.environment).map(\.message) == ["sink has both log and kafka"])
        let neither = Self.file(sink: "x-note: nothing")
        #expect(Fixtures.diagnostics(neither, environment: Self.environment).map(\.message) == ["missing required field 'log', 'kafka' or 'postgres' in sink"])
    }

    @Test func theSinksOwnPropertiesCannotBePassedThrough() {
        let text = Self.file(sink: "kafka: {bootstrap_servers: b:9092, producer: {transactional.id: other, linger.ms: '5'}}")
        let diagnostics = Fixtures.diagnostics(text, environment: Self.environment)
        #expect(diagnostics.map(\.message) == ["transactional.id is set by the sink itself"])
    }

    @Test func serveAndTheChangelogNeedTheLog() {
        let text = Self.file(sink: "kafka: {bootstrap_servers: b:9092}", extra: "serve: {listen: '127.0.0.1:0'}")
        #expect(Fixtures.diagnostics(text, environment: Self.environment).map(\.message) == ["serve needs sink.log: with sink.kafka, consumers read the Kafka cluster"])
    }

    @Test func theSchemaKnowsBothSinks() throws {
        let schema = PipelineSchema.text
        for key in ["bootstrap_servers", "transactional_id", "checkpoint_topic", "checkpoint_replication_factor", "state_dir", "security", "sasl", "tls", "producer"] {
            #expect(schema.contains("\"\(key)\""))
        }
        let committed = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("docs/pipeline.schema.json"), encoding: .utf8)
        #expect(committed == schema)
    }
}
