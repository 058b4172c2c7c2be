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
        for key in ["bootstrap_servers", "transactional_id", "checkpoint_topic", "security", "sasl", "tls", "producer"] {
            #expect(schema.contains("\"\(key)\""))
        }
        let committed = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("docs/pipeline.schema.json"), encoding: .utf8)
        #expect(committed == schema)
    }
}
