import BinaryIO
import Foundation
import KafkaClient

extension KafkaSink.Settings {
    /// The sink's settings from `sink.kafka`: librdkafka properties for the producer and the
    /// checkpoint reader (servers, security, compression, the passthrough), secrets included —
    /// they go to librdkafka only, never into a message.
    public init(_ config: KafkaSinkConfig, runner: PipelineRunner.Settings, configHash: String) {
        var common = KafkaConfiguration([("bootstrap.servers", config.bootstrapServers.value), ("security.protocol", config.securityProtocol)])
        if let sasl = config.sasl {
            common["sasl.mechanisms"] = sasl.mechanism.rawValue
            common["sasl.username"] = sasl.username.value
            common["sasl.password"] = sasl.password.value
        }
        if let tls = config.tls {
            if let caFile = tls.caFile { common["ssl.ca.location"] = caFile }
            if let certFile = tls.certFile { common["ssl.certificate.location"] = certFile }
            if let keyFile = tls.keyFile { common["ssl.key.location"] = keyFile }
            if let keyPassword = tls.keyPassword { common["ssl.key.password"] = keyPassword.value }
            common["ssl.endpoint.identification.algorithm"] = tls.verifyHostname ? "https" : "none"
        }
        var producer = common
        producer["compression.codec"] = config.compression.rawValue
        producer["transaction.timeout.ms"] = String(config.transactionTimeout.milliseconds)
        for (key, value) in config.producer { producer[key] = value.value }
        self.init(
            producer: producer, reader: common, transactionalID: config.transactionalID, checkpointTopic: config.checkpointTopic,
            pipelineName: runner.pipelineName, databaseName: runner.databaseName, configHash: configHash)
        checkpointReplicationFactor = config.checkpointReplicationFactor
    }
}

extension PipelineConfig {
    /// A short hash of the resolved pipeline (secrets redacted), kept with each Kafka checkpoint
    /// so a restart can say the file changed. FNV-1a, 64 bits, in hex.
    public var configHash: String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in resolved.json.rendered().utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0100_0000_01B3
        }
        return String(hash, radix: 16)
    }
}

extension KafkaSinkConfig {
    /// `state_dir`, a relative one taken from `workingDirectory`.
    public func stateDirectory(workingDirectory: String) -> String {
        stateDir.hasPrefix("/") ? stateDir : workingDirectory + "/" + stateDir
    }

    /// `state_dir` made absolute (relative to `workingDirectory`), created when missing and
    /// checked writable, before the pipeline starts: the checkpoints name files in it, so a
    /// directory the stages cannot write must stop the start, with what is wrong and where.
    public func preparedStateDirectory(workingDirectory: String) throws(PipelineError) -> String {
        let path = stateDirectory(workingDirectory: workingDirectory)
        func refuse(_ problem: String, _ error: (any Error)? = nil) -> PipelineError {
            PipelineError(.configuration, "sink.kafka.state_dir \(stateDir) (\(path)) \(problem)", underlying: error)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw refuse("is not a directory") }
        } else {
            do { try POSIXFile<FileError>.createDirectory(path, intermediate: true) } catch {
                throw refuse("cannot be created: \(error)", error)
            }
        }
        // access(2) says yes to root whatever the mode, and nothing of a read-only mount: a file
        // actually created and removed answers for both.
        let probe = path + "/.outflow-write-check-\(getpid())"
        do {
            let fd = try POSIXFile<FileError>.open(probe, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            close(fd)
            try POSIXFile<FileError>.remove(probe)
        } catch {
            throw refuse("is not writable: \(error)", error)
        }
        return path
    }
}
