import ArgumentParser
import Prometheus
import MetricsEndpoint
import CoreMetrics
import FaultInjection
import Foundation
import KafkaEndpoint
import Logging
import Pipeline
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serves a log over Kafka's wire protocol, for any Kafka consumer to read.",
        discussion: """
            This endpoint is the one broker and leader of every partition. Consumers read with \
            their own Kafka clients (bootstrap server = --listen), read_committed or \
            read_uncommitted; the records are the stored batches, byte for byte. Nothing can be \
            produced: the pipeline is the log's only writer. Consumer groups (subscribe() with a \
            group id) share partitions as with a Kafka broker; their committed offsets are the \
            ones `outflow tail --group` uses. --tls-certificate and --tls-key turn on TLS; \
            --users FILE turns on SASL (PLAIN over TLS, SCRAM-SHA-256/512) with a topic \
            allow-list per user (the file is shaped as a pipeline's serve.sasl block). It binds \
            127.0.0.1 unless told otherwise, and says so at start. SIGINT/SIGTERM stops it.
            """)

    @Option(name: .customLong("log"), help: "The log directory.")
    var directory: String

    @Option(help: ArgumentHelp("Address and port to listen on (port 0: any free one).", valueName: "host:port"))
    var listen = "127.0.0.1:9092"

    @Option(help: "The host name clients are told to connect to (default: the address each one connected to).")
    var advertisedHost: String?

    @Option(help: ArgumentHelp("The server's certificate chain (PEM) for TLS; with --tls-key.", valueName: "path"))
    var tlsCertificate: String?

    @Option(help: ArgumentHelp("The server's private key (PEM, unencrypted) for TLS; with --tls-certificate.", valueName: "path"))
    var tlsKey: String?

    @Option(help: ArgumentHelp(
        "A YAML file of SASL users (mechanisms, allow_plaintext_passwords, users: [{name, password: ${env:VAR}, topics: [glob…]}]).",
        valueName: "file"))
    var users: String?

    @Option(help: "Connections beyond this many are closed as they arrive.")
    var maxConnections = 256

    @Option(help: "A request larger than this many bytes closes its connection.")
    var maxRequestBytes = 8 << 20

    @Option(help: "The most record bytes one Fetch response carries, whatever the client asks (at least one batch).")
    var maxFetchBytes = 55 << 20

    @Option(help: "The most record bytes all Fetch responses hold until written; a fetch past it gets what is left (at least one batch).")
    var maxFetchBytesInFlight = 256 << 20

    @Flag(help: "Log every request (API, version, client id) on standard error (--log-level debug).")
    var verbose = false

    @OptionGroup var logging: LogOptions

    @Option(help: ArgumentHelp("Serve /metrics (Prometheus), /health and /ready on this address (port 0: any free one).", valueName: "host:port"))
    var metricsListen: String?

    func validate() throws {
        guard ListenAddress(listen) != nil else { throw ValidationError("--listen wants host:port, such as 127.0.0.1:9092 or [::1]:9092.") }
        guard (tlsCertificate == nil) == (tlsKey == nil) else { throw ValidationError("--tls-certificate and --tls-key go together.") }
        if let metricsListen, ListenAddress(metricsListen) == nil { throw ValidationError("--metrics-listen wants host:port, such as 127.0.0.1:9464.") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1.") }
        guard maxRequestBytes >= 1024 else { throw ValidationError("--max-request-bytes must be at least 1024.") }
        guard maxFetchBytes >= 1 else { throw ValidationError("--max-fetch-bytes must be at least 1.") }
        guard maxFetchBytesInFlight >= maxFetchBytes else { throw ValidationError("--max-fetch-bytes-in-flight must be at least --max-fetch-bytes.") }
    }

    func run() async throws {
        let address = ListenAddress(listen)!
        let (host, port) = (address.host, address.port)
        var standardError = StandardError()
        let tls = tlsCertificate.map { ServeTLSConfig(certificatePath: $0, privateKeyPath: tlsKey!) }
        var sasl: ServeSASLConfig?
        var secrets = SecretValues()
        if let users {
            do {
                let loaded = try ServeUsersFile.load(path: users, tlsConfigured: tls != nil)
                sasl = loaded.sasl
                secrets = loaded.secrets
            } catch {
                print(error.description, terminator: "", to: &standardError)
                throw invalidConfigurationExitCode
            }
        }
        logging.bootstrap(secrets: secrets, defaultLevel: verbose ? .debug : .info)
        let logger = Logger(label: "outflow.kafka")
        do {
            if let armed = try CrashPoint.validate() { FileHandle.standardError.write(Data("crash point armed: \(armed)\n".utf8)) }
        } catch {
            FileHandle.standardError.write(Data("outflow serve: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
        var configuration = KafkaEndpointConfiguration(
            logDirectory: directory, host: host, port: port, advertisedHost: advertisedHost, maximumFrameSize: maxRequestBytes,
            maximumConnections: maxConnections, maximumFetchResponseBytes: maxFetchBytes, maximumFetchBytesInFlight: maxFetchBytesInFlight)
        do { configuration.security = try endpointSecurity(tls: tls, sasl: sasl) } catch {
            print("outflow serve: \(error.message)", to: &standardError)
            throw invalidConfigurationExitCode
        }
        let directory = self.directory
        let summary = securitySummary(configuration.security)
        let endpoint = KafkaEndpointService(configuration: configuration, logger: logger) { server in
            let reach = host == "127.0.0.1" || host == "::1" || host == "localhost" ? "this machine only; --listen 0.0.0.0:PORT for others" : "reachable from other hosts"
            // Written at once (not buffered): scripts wait for this line to learn the port.
            FileHandle.standardOutput.write(
                Data("outflow serve: Kafka endpoint for \(directory) listening on \(host):\(server.port) (\(reach); \(summary))\n".utf8))
        }
        var groupLogger = Logger(label: "outflow.lifecycle")
        groupLogger.logLevel = .warning
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // Metrics first: services stop in reverse order, so /metrics answers until the endpoint stopped.
        if let metricsAddress = metricsListen.flatMap({ ListenAddress($0) }) {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            services.append(.init(service: MetricsServer(
                host: metricsAddress.host, port: metricsAddress.port,
                routes: MetricsRoutes(metrics: { registry.emitToBuffer() }, readiness: { (true, "serving") }), logger: groupLogger,
                onBound: { host, port in
                    FileHandle.standardError.write(Data("metrics: http://\(ListenAddress(host: host, port: port))/metrics (also /health, /ready)\n".utf8))
                })))
        }
        services.append(.init(service: endpoint, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: groupLogger))
        do { try await group.run() } catch let error as KafkaEndpointError {
            print("outflow serve: \(error.message)", to: &standardError)
            throw ExitCode(1)
        }
    }
}
