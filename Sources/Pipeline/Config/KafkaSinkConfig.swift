/// `sink.kafka`: an existing Kafka cluster the pipeline writes into, through librdkafka. Topics,
/// keys, headers and partitions are the log sink's, so moving between the two changes only the
/// `sink:` block.
public struct KafkaSinkConfig: Sendable, Equatable {
    public enum Compression: String, Sendable, CaseIterable {
        case zstd, lz4, gzip, snappy, none
    }

    public enum SASLMechanism: String, Sendable, CaseIterable {
        case plain = "PLAIN"
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
    }

    public struct SASL: Sendable, Equatable {
        public var mechanism: SASLMechanism
        public var username: SecretString
        public var password: SecretString
    }

    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var keyPassword: SecretString?
        public var verifyHostname: Bool
    }

    struct Security: Sendable {
        var sasl: SASL?
        var tls: TLS?
    }

    /// `host:port[,host:port…]`.
    public var bootstrapServers: SecretString
    public var compression: Compression
    /// Registers the producer with its transaction coordinator; a second instance with the same
    /// id fences the first. Default: `outflow-<pipeline name>`.
    public var transactionalID: String
    /// The compacted topic holding each pipeline's checkpoint, keyed by pipeline name.
    public var checkpointTopic: String
    /// The replication factor the sink creates the checkpoint topic with when it is missing;
    /// nil: min(3, the cluster's brokers).
    public var checkpointReplicationFactor: Int?
    /// Where stateful stages keep their files (a relative path is from the directory
    /// `outflow run` starts in). Default: `.outflow-state/<pipeline name>`.
    public var stateDir: String
    public var sasl: SASL?
    /// Set (possibly empty: the system's CAs) when the connection uses TLS.
    public var tls: TLS?
    /// librdkafka producer properties passed through as written.
    public var producer: [(key: String, value: SecretString)]
    /// Least time from one group commit (a Kafka transaction) to the next while transactions keep arriving.
    public var minCommitInterval: ConfigDuration
    /// How long a Kafka transaction may stay open (transaction.timeout.ms), and how long a
    /// commit waits before it is retried.
    public var transactionTimeout: ConfigDuration

    public static func == (a: KafkaSinkConfig, b: KafkaSinkConfig) -> Bool {
        a.bootstrapServers == b.bootstrapServers && a.compression == b.compression && a.transactionalID == b.transactionalID
            && a.checkpointTopic == b.checkpointTopic && a.checkpointReplicationFactor == b.checkpointReplicationFactor
            && a.stateDir == b.stateDir && a.sasl == b.sasl && a.tls == b.tls
            && a.producer.elementsEqual(b.producer, by: { $0.key == $1.key && $0.value == $1.value })
            && a.minCommitInterval == b.minCommitInterval && a.transactionTimeout == b.transactionTimeout
    }

    /// librdkafka's `security.protocol` for these settings.
    public var securityProtocol: String {
        switch (sasl != nil, tls != nil) {
        case (false, false): "plaintext"
        case (false, true): "ssl"
        case (true, false): "sasl_plaintext"
        case (true, true): "sasl_ssl"
        }
    }
}

extension KafkaSinkConfig {
    public static let defaultCheckpointTopic = "__outflow_checkpoints"
    /// The state directory when `state_dir` is not given: under the working directory.
    public static func defaultStateDir(pipelineName: String) -> String { ".outflow-state/\(pipelineName)" }
    public static let defaultMinCommitInterval = ConfigDuration("100ms")!

    /// Producer properties the sink sets itself: passing them through would break its guarantees
    /// or bypass the fields that keep secrets out of messages.
    static let reservedProducerProperties: Set<String> = [
        "bootstrap.servers", "metadata.broker.list", "transactional.id", "enable.idempotence", "compression.codec", "compression.type",
        "security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password", "ssl.key.password",
        "ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "transaction.timeout.ms", "isolation.level",
    ]

    enum Fields {
        static let bootstrapServers = FieldSpec(
            "bootstrap_servers", ValueSpec<SecretString>.secretString, .required,
            doc: "The cluster's brokers, host:port separated by commas (librdkafka's bootstrap.servers).")
        static let compression = FieldSpec(
            "compression", .enumeration, .defaulted(Compression.zstd, shown: .string("zstd")), doc: "Batch compression: zstd, lz4, gzip, snappy or none.")
        static let transactionalID = FieldSpec(
            "transactional_id", ValueSpec<String>.string, .optional,
            doc: "The producer's transactional.id: one per pipeline instance; a second instance with the same id fences the first. Default: outflow-<name>.")
        static let checkpointTopic = FieldSpec(
            "checkpoint_topic", ValueSpec<String>.topicName, .defaulted(defaultCheckpointTopic, shown: .string(defaultCheckpointTopic)),
            doc: "The compacted topic holding each pipeline's checkpoint (source position, stage state), keyed by the pipeline's name; created (1 partition, cleanup.policy=compact) when missing.")
        static let checkpointReplicationFactor = FieldSpec(
            "checkpoint_replication_factor", .integer(1...32), .optional,
            doc: "Replication factor of the checkpoint topic when the sink creates it. Default: min(3, the cluster's brokers).")
        static let stateDir = FieldSpec(
            "state_dir", ValueSpec<String>.string, .optional,
            doc: "Directory of the stateful stages' files (dedupe), named by the checkpoints: it must survive restarts. Relative paths are from the working directory. Default: .outflow-state/<name>.")
        static let minCommitInterval = FieldSpec(
            "min_commit_interval", .duration, .defaulted(defaultMinCommitInterval, shown: .string("100ms")),
            doc: "Least time between two Kafka transactions while source transactions keep arriving; a transaction after a quiet spell commits at once.")
        static let transactionTimeout = FieldSpec(
            "transaction_timeout", .duration, .defaulted(ConfigDuration("60s")!, shown: .string("60s")),
            doc: "How long a Kafka transaction may stay open before the cluster aborts it (transaction.timeout.ms).")

        static let mechanism = FieldSpec(
            "mechanism", ValueSpec<SASLMechanism>.enumeration, .defaulted(.scramSHA512, shown: .string("SCRAM-SHA-512")),
            doc: "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.")
        static let username = FieldSpec("username", ValueSpec<SecretString>.secretString, .required, doc: "SASL user name.")
        static let password = FieldSpec(
            "password", ValueSpec<SecretString>.secretString, .required, doc: "SASL password, by reference only: ${env:VAR} or ${file:path}.")
        static let saslSpec = ObjectSpec(
            name: "sink.kafka.security.sasl", doc: "SASL authentication.", fields: [mechanism.schema, username.schema, password.schema])
        static let sasl = FieldSpec("sasl", ValueSpec<SASL>.object(saslSpec, build: decodeSASL), .optional, doc: saslSpec.doc)

        static let caFile = FieldSpec("ca_file", ValueSpec<String>.string, .optional, doc: "CA certificates (PEM) to verify the brokers with. Default: the system's.")
        static let certFile = FieldSpec("cert_file", ValueSpec<String>.string, .optional, doc: "Client certificate (PEM), for mutual TLS.")
        static let keyFile = FieldSpec("key_file", ValueSpec<String>.string, .optional, doc: "Client private key (PEM), for mutual TLS.")
        static let keyPassword = FieldSpec(
            "key_password", ValueSpec<SecretString>.secretString, .optional, doc: "Password of the private key, by reference only: ${env:VAR} or ${file:path}.")
        static let verifyHostname = FieldSpec(
            "verify_hostname", ValueSpec<Bool>.boolean, .defaulted(true, shown: .scalar("true", kind: .bool, secret: false)), doc: "Check that the broker's certificate names the host.")
        static let tlsSpec = ObjectSpec(
            name: "sink.kafka.security.tls", doc: "TLS to the brokers (an empty mapping: TLS with the system's CAs).",
            fields: [caFile.schema, certFile.schema, keyFile.schema, keyPassword.schema, verifyHostname.schema])
        static let tls = FieldSpec("tls", ValueSpec<TLS>.object(tlsSpec, build: decodeTLS), .optional, doc: tlsSpec.doc)

        static let securitySpec = ObjectSpec(
            name: "sink.kafka.security", doc: "How the producer authenticates and encrypts: SASL, TLS, or both.", fields: [sasl.schema, tls.schema])
        static let security = FieldSpec(
            "security", ValueSpec<Security>.object(securitySpec, build: decodeSecurity), .optional, doc: securitySpec.doc)

        static let producer = FieldSpec(
            "producer",
            ValueSpec<[(key: String, value: SecretString)]>.entries(
                keyedBy: "a librdkafka producer property", of: .secretString,
                validateKey: { key in
                    reservedProducerProperties.contains(key)
                        ? ("\(key) is set by the sink itself", "use the sink.kafka fields (bootstrap_servers, security, compression, transactional_id)") : nil
                }),
            .defaulted([], shown: .object([])),
            doc: "librdkafka producer properties passed through (linger.ms, batch.size, message.timeout.ms, …).")
    }

    static let spec = ObjectSpec(
        name: "sink.kafka", doc: "An existing Kafka cluster, written through librdkafka with Kafka transactions.",
        fields: [Fields.bootstrapServers.schema, Fields.compression.schema, Fields.transactionalID.schema, Fields.checkpointTopic.schema,
                 Fields.checkpointReplicationFactor.schema, Fields.stateDir.schema, Fields.security.schema, Fields.producer.schema, Fields.minCommitInterval.schema, Fields.transactionTimeout.schema])

    /// A password must come from the environment or a file: one written into the pipeline file
    /// would be shown by every tool that prints the file.
    private static func requireReference(_ secret: SecretString?, _ field: String, _ reader: ObjectReader, _ context: inout DecodingContext) -> Bool {
        guard let secret, !secret.isSecret else { return true }
        context.log.error(
            .invalidValue, "\(field) must be given by reference", at: reader.keyLocation(field) ?? reader.location, length: field.count,
            hint: "write ${env:VARIABLE} or ${file:path} instead of the password itself")
        return false
    }

    static func decodeSASL(_ reader: ObjectReader, _ context: inout DecodingContext) -> SASL? {
        let mechanism = reader.read(Fields.mechanism, &context), username = reader.read(Fields.username, &context)
        let password = reader.read(Fields.password, &context)
        guard requireReference(password, Fields.password.name, reader, &context), let mechanism, let username, let password else { return nil }
        return SASL(mechanism: mechanism, username: username, password: password)
    }

    static func decodeTLS(_ reader: ObjectReader, _ context: inout DecodingContext) -> TLS? {
        let caFile = reader.read(Fields.caFile, &context), certFile = reader.read(Fields.certFile, &context)
        let keyFile = reader.read(Fields.keyFile, &context), keyPassword = reader.read(Fields.keyPassword, &context)
        let verifyHostname = reader.read(Fields.verifyHostname, &context)
        guard requireReference(keyPassword, Fields.keyPassword.name, reader, &context), let verifyHostname else { return nil }
        if (certFile == nil) != (keyFile == nil) {
            context.log.error(.conflictingOptions, "cert_file and key_file go together", at: reader.location, hint: "set both for mutual TLS, or neither")
            return nil
        }
        for field in [Fields.caFile, Fields.certFile, Fields.keyFile] where reader.has(field.name) && reader.read(field, &context) == nil { return nil }
        return TLS(caFile: caFile, certFile: certFile, keyFile: keyFile, keyPassword: keyPassword, verifyHostname: verifyHostname)
    }

    static func decodeSecurity(_ reader: ObjectReader, _ context: inout DecodingContext) -> Security? {
        let sasl = reader.read(Fields.sasl, &context), tls = reader.read(Fields.tls, &context)
        if reader.has(Fields.sasl.name) && sasl == nil || reader.has(Fields.tls.name) && tls == nil { return nil }
        // `tls: {}` is written as an empty mapping; a `tls:` with nothing after it means the same.
        if tls == nil, let node = reader.node(Fields.tls.name), case .mapping = node { return nil }
        return Security(sasl: sasl, tls: tls ?? (reader.keyLocation(Fields.tls.name) != nil ? TLS(verifyHostname: true) : nil))
    }

    /// Decodes the block; the default transactional.id needs the pipeline's name.
    static func decode(_ reader: ObjectReader, pipelineName: String?, _ context: inout DecodingContext) -> KafkaSinkConfig? {
        let bootstrapServers = reader.read(Fields.bootstrapServers, &context), compression = reader.read(Fields.compression, &context)
        var transactionalID = reader.read(Fields.transactionalID, &context)
        let checkpointTopic = reader.read(Fields.checkpointTopic, &context), security = reader.read(Fields.security, &context)
        let producer = reader.read(Fields.producer, &context), minCommitInterval = reader.read(Fields.minCommitInterval, &context)
        let transactionTimeout = reader.read(Fields.transactionTimeout, &context)
        let replicationFactor = reader.read(Fields.checkpointReplicationFactor, &context)
        var stateDir = reader.read(Fields.stateDir, &context)
        if reader.has(Fields.checkpointReplicationFactor.name), replicationFactor == nil { return nil }
        if reader.has(Fields.stateDir.name), stateDir == nil { return nil }
        if stateDir == nil, let pipelineName {
            stateDir = defaultStateDir(pipelineName: pipelineName)
            reader.show(Fields.stateDir.name, .string(stateDir!))
        }
        if reader.has(Fields.transactionalID.name), transactionalID == nil { return nil }
        if reader.has(Fields.security.name), security == nil { return nil }
        if transactionalID == nil, let pipelineName {
            transactionalID = "outflow-\(pipelineName)"
            reader.show(Fields.transactionalID.name, .string(transactionalID!))
        }
        guard let bootstrapServers, let compression, let transactionalID, let checkpointTopic, let producer, let minCommitInterval,
            let transactionTimeout, let stateDir
        else { return nil }
        return KafkaSinkConfig(
            bootstrapServers: bootstrapServers, compression: compression, transactionalID: transactionalID, checkpointTopic: checkpointTopic,
            checkpointReplicationFactor: replicationFactor, stateDir: stateDir, sasl: security?.sasl, tls: security?.tls, producer: producer, minCommitInterval: minCommitInterval, transactionTimeout: transactionTimeout)
    }
}

extension KafkaSinkConfig.TLS {
    init(verifyHostname: Bool) {
        self.init(caFile: nil, certFile: nil, keyFile: nil, keyPassword: nil, verifyHostname: verifyHostname)
    }
}

/// `sink:` holds exactly one of `log`, `kafka` and `postgres`.
public enum SinkConfig: Sendable, Equatable {
    case log(LogSinkConfig)
    case kafka(KafkaSinkConfig)
    case postgres(PostgresSinkConfig)

    public var log: LogSinkConfig? { if case .log(let log) = self { log } else { nil } }
    public var kafka: KafkaSinkConfig? { if case .kafka(let kafka) = self { kafka } else { nil } }
    public var postgres: PostgresSinkConfig? { if case .postgres(let postgres) = self { postgres } else { nil } }

    public var minCommitInterval: ConfigDuration {
        switch self {
        case .log(let log): log.minCommitInterval
        case .kafka(let kafka): kafka.minCommitInterval
        case .postgres(let postgres): postgres.minCommitInterval
        }
    }

    /// What it writes into, for messages: the log's directory or the cluster's servers.
    public var summary: String {
        switch self {
        case .log(let log): "log \(log.dir), \(log.partitions) partition\(log.partitions == 1 ? "" : "s")"
        case .kafka(let kafka): "Kafka \(kafka.bootstrapServers.redacted)"
        case .postgres(let postgres): "PostgreSQL \(postgres.displayURL), schema \(postgres.schema)"
        }
    }
}
