import ArgumentParser
import FaultInjection
import Foundation
import Logging
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import CoreMetrics
import KafkaEndpoint
import MetricsEndpoint
import Prometheus
import ServiceLifecycle
import UnixSignals

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs a pipeline file: Postgres → stages → log.",
        discussion: """
            Creates the publication and slot when missing, resumes after the last position the \
            log holds, and streams until stopped. The first SIGINT/SIGTERM finishes the source \
            transaction in progress, commits, acknowledges and exits 0 (within --shutdown-timeout); \
            a second one exits at once (safe: recovery aborts the open log transaction).
            """)

    @Argument(help: "The pipeline file.") var file: String
    @Flag(help: "Print the records instead of writing them; acknowledge nothing to Postgres.") var dryRun = false
    @Option(help: "Seconds between progress lines on standard error (0: none).") var progressInterval: Double = 5
    @Option(help: "Seconds a stop waits for the source transaction in progress.") var shutdownTimeout: Double = 10
    @Option(help: ArgumentHelp(
        "Skip ahead: start streaming at this WAL position; transactions committed before it are never read (they are lost to this pipeline).",
        valueName: "X/Y"))
    var startLSN: String?
    @Option(
        help: ArgumentHelp(
            "Stop cleanly (exit 0) once everything up to this WAL position (X/Y) is durable and acknowledged.",
            valueName: "lsn"))
    var untilLSN: String?
    @Option(help: ArgumentHelp(
        "Serve /metrics (Prometheus), /health and /ready on this address (overrides runtime.metrics.listen in the file).",
        valueName: "host:port"))
    var metricsListen: String?
    @OptionGroup var logging: LogOptions

    func validate() throws {
        if let startLSN, LSN(startLSN) == nil { throw ValidationError("--start-lsn \(startLSN): not a WAL position (X/Y, hexadecimal)") }
        if let untilLSN, LSN(untilLSN) == nil { throw ValidationError("--until-lsn: not a WAL position (X/Y in hexadecimal): \(untilLSN)") }
        if untilLSN != nil && dryRun { throw ValidationError("--until-lsn cannot be combined with --dry-run (nothing is acknowledged)") }
        if let metricsListen, ListenAddress(metricsListen) == nil { throw ValidationError("--metrics-listen \(metricsListen): not host:port (e.g. 127.0.0.1:9464)") }
    }

    func run() async throws {
        let config = try loadPipeline(file)
        logging.bootstrap(secrets: config.secrets)
        let options = Options(
            dryRun: dryRun, progressInterval: progressInterval, shutdownTimeout: shutdownTimeout, startLSN: startLSN.flatMap { LSN($0) },
            untilLSN: untilLSN.flatMap { LSN($0) })
        // The pipeline is a service of the process: the first SIGINT/SIGTERM shuts the group
        // down gracefully (the pipeline drains, commits, acknowledges); a second exits at once.
        // Services stop in reverse order: the metrics endpoint answers until the pipeline stopped.
        let health = PipelineHealth()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: SecondSignalExit { _ in FileHandle.standardError.write(Data("outflow: stopping (send the signal again to exit at once)\n".utf8)) })
        ]
        let groupLogger = Logger(label: "outflow.lifecycle")
        let metricsAddress = metricsListen.flatMap { ListenAddress($0) } ?? config.runtime.metricsListen
        var metrics: PipelineMetrics?
        if let metricsAddress {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            metrics = PipelineMetrics()
            let server = MetricsServer(
                host: metricsAddress.host, port: metricsAddress.port,
                routes: MetricsRoutes(metrics: { registry.emitToBuffer() }, readiness: { health.readiness() }), logger: groupLogger,
                onBound: { host, port in
                    FileHandle.standardError.write(Data("metrics: http://\(ListenAddress(host: host, port: port))/metrics (also /health, /ready)\n".utf8))
                })
            services.append(.init(service: server))
            if !dryRun, let log = config.sink.log { services.append(.init(service: LogMonitor(directory: log.dir, logger: groupLogger))) }
        }
        // `serve:` in the file: any Kafka consumer reads the log this pipeline writes, from this
        // process. Its directory is made first: the endpoint opens it as the pipeline starts.
        if let serve = config.serve, let log = config.sink.log, !dryRun {
            try FileManager.default.createDirectory(atPath: log.dir, withIntermediateDirectories: true)
            var configuration = KafkaEndpointConfiguration(
                logDirectory: log.dir, host: serve.listen.host, port: serve.listen.port, advertisedHost: serve.advertisedHost)
            do { configuration.security = try endpointSecurity(tls: serve.tls, sasl: serve.sasl) } catch {
                var standardError = StandardError()
                print("outflow run: \(error.message)", to: &standardError)
                throw invalidConfigurationExitCode
            }
            let summary = securitySummary(configuration.security)
            let endpoint = KafkaEndpointService(configuration: configuration, logger: Logger(label: "outflow.kafka")) { server in
                FileHandle.standardError.write(
                    Data("kafka: serving the log on \(ListenAddress(host: serve.listen.host, port: server.port)) (bootstrap.servers; \(summary))\n".utf8))
            }
            services.append(.init(service: endpoint))
        }
        // The slot is watched whether or not metrics are served: its warning is a log line too.
        if !dryRun, let connectionString = try? ConnectionString(config.source.url.value) {
            services.append(.init(service: SlotMonitor(
                connectionString: connectionString, slot: config.source.slot, warnAbove: config.source.slotWALWarning.bytes, logger: groupLogger)))
        }
        // Outbox cleanup: a service per outbox stage with `cleanup:`, on what the pipeline reports durable.
        let sinkDurable = SinkDurablePosition()
        if !dryRun, let connectionString = try? ConnectionString(config.source.url.value) {
            for settings in OutboxCleanupSettings.all(config, stateDirectory: Self.stateDirectory(config, logDirectory: config.sink.log?.dir)) {
                services.append(.init(service: OutboxCleaner(
                    settings: settings, connectionString: connectionString, durable: sinkDurable, logger: Logger(label: "outflow.cleanup"))))
            }
        }
        let observer = RunObserver(health: health, metrics: metrics, sinkDurable: sinkDurable)
        let pipeline = PipelineService { shouldStop in Self.runPipeline(config, options: options, observer: observer, shouldStop: shouldStop) }
        services.append(.init(service: pipeline, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: groupLogger))
        try await group.run()
        if pipeline.status != 0 { throw ExitCode(pipeline.status) }
    }

    struct Options: Sendable {
        var dryRun: Bool
        var progressInterval: Double
        var shutdownTimeout: Double
        var startLSN: LSN? = nil
        var untilLSN: LSN? = nil
    }

    /// What the pipeline thread reports to operators: readiness and metrics.
    struct RunObserver: @unchecked Sendable {
        // `metrics` is used on the pipeline's thread only; `health` is thread-safe.
        let health: PipelineHealth
        let metrics: PipelineMetrics?
        let sinkDurable: SinkDurablePosition
    }

    /// Where stateful stages and outbox cleanup keep their files: beside the log; with
    /// sink.kafka, its state_dir; with sink.postgres, in the directory outflow run starts in
    /// (.outflow-state/<pipeline>).
    static func stateDirectory(_ config: PipelineConfig, logDirectory: String?) -> String {
        let workingDirectory = FileManager.default.currentDirectoryPath
        return logDirectory.map { PipelineRunner.Settings.stateDirectory(forLog: $0) }
            ?? config.sink.kafka?.stateDirectory(workingDirectory: workingDirectory)
            ?? workingDirectory + "/.outflow-state/" + config.name
    }

    static func runPipeline(_ config: PipelineConfig, options: Options, observer: RunObserver, shouldStop: @escaping @Sendable () -> Bool) -> Int32 {
        var standardError = StandardError()
        let logger = Logger(label: "outflow")
        var logDirectory = config.sink.log?.dir
        do {
            if let armed = try CrashPoint.validate() { print("crash point armed: \(armed)", to: &standardError) }
            let built = try PipelineBuilder.build(config)
            try SourcePreparation.prepare(config, connectionString: built.connectionString) { print($0, to: &standardError) }
            if options.dryRun {
                logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-dry-run-\(UUID().uuidString)").path
            }
            defer { if options.dryRun, let logDirectory { try? FileManager.default.removeItem(atPath: logDirectory) } }
            var runnerSettings = built.runner
            runnerSettings.drainTimeout = .milliseconds(Int64(options.shutdownTimeout * 1000))
            // Stateful stages keep their files beside the log; with sink.kafka in its state_dir
            // (created and checked here); with sink.postgres in the directory outflow run starts
            // in (.outflow-state/<pipeline>): the checkpoint names them.
            runnerSettings.stateDirectory = stateDirectory(config, logDirectory: logDirectory)
            if logDirectory == nil, let kafka = config.sink.kafka {
                runnerSettings.stateDirectory = try kafka.preparedStateDirectory(workingDirectory: FileManager.default.currentDirectoryPath)
            }
            if !options.dryRun {
                for cleanup in OutboxCleanupSettings.all(config, stateDirectory: runnerSettings.stateDirectory!) {
                    try OutboxCleaner.preflight(cleanup, connectionString: built.connectionString) { print($0, to: &standardError) }
                }
            }
            // The log sink, or (not a dry run) the Kafka or the Postgres sink.
            let sink: any Sink
            var writer: LogWriter?
            // A clean stop leaves the clean shutdown marker, so the next start skips reading the
            // active segments through; after a failure the writer declines and says why.
            defer {
                if let writer, !options.dryRun {
                    print(writer.closeCleanly() ? "log: closed cleanly" : "log: closed without a clean shutdown marker", to: &standardError)
                }
                writer?.close()
            }
            if let logDirectory {
                let logWriter = try LogWriter.open(directory: logDirectory, config: built.logConfig ?? LogConfig(), logger: logger)
                writer = logWriter
                if !options.dryRun { print("log: \(logWriter.opening)", to: &standardError) }
                if let metrics = observer.metrics { logWriter.fsyncObserver = { metrics.observeFsync($0) } }
                let logSink = LogSink(writer: logWriter, settings: runnerSettings)
                if options.dryRun {
                    // One line per record as it happens, also into a pipe (stdout is block-buffered there).
                    logSink.onRecord = { record in FileHandle.standardOutput.write(Data((record + "\n").utf8)) }
                }
                sink = logSink
            } else if let kafka = config.sink.kafka {
                let kafkaSink = KafkaSink(settings: KafkaSink.Settings(kafka, runner: runnerSettings, configHash: config.configHash), logger: logger)
                if observer.metrics != nil { kafkaSink.metrics = KafkaSinkMetrics() }
                sink = kafkaSink
            } else if let postgres = config.sink.postgres {
                sink = PostgresSink(settings: try PostgresSink.Settings(postgres, runner: runnerSettings, configHash: config.configHash), logger: logger)
            } else {
                throw PipelineError(.configuration, "the pipeline has no sink")
            }
            // Snapshots write into the database (watermarks): not on a dry run.
            let snapshots = options.dryRun ? nil : built.snapshots.map {
                SnapshotCoordinator(settings: $0, reader: PostgresSnapshotReader(connectionString: built.connectionString), logger: logger)
            }
            let runner = try PipelineRunner(
                graph: built.graph, sink: sink, settings: runnerSettings, rowDecoder: RowDecoder(connectionString: built.connectionString),
                logger: logger, snapshots: snapshots)
            if let status = snapshots?.status { print("resuming \(status)", to: &standardError) }
            var startAt = options.dryRun ? .zero : runner.sourceStart
            if let skipTo = options.startLSN, skipTo > startAt {
                print("warning: --start-lsn \(skipTo): transactions committed before it are skipped and never reach the log", to: &standardError)
                startAt = skipTo
            }
            let session = try ReplicationSession(settings: built.replication, durable: startAt, logger: logger)
            defer { session.close() }
            if options.dryRun { session.acknowledgementsDisabled = true }
            print("""
                pipeline \(config.name): slot \(config.source.slot), publication \(config.source.publication), \
                resuming after \(runner.committedPosition == .zero ? "the slot's confirmed position" : runner.committedPosition.description), \
                \(options.dryRun ? "log (dry run: nothing written)" : config.sink.summary), guarantee \(config.guarantee.rawValue)
                """, to: &standardError)
            var lastReport = ContinuousClock.now
            var lastEvents = 0
            // --until-lsn: the source's flush position is what is durable in the log (a Commit's end
            // LSN, or a keepalive's WAL end once everything handed over is durable).
            let until = options.untilLSN
            try runner.run(source: ReplicationSource(session), shouldStop: { shouldStop() || until.map { session.feedback.flushPosition >= $0 } ?? false }, report: { progress in
                observer.health.progressed()
                if !options.dryRun { observer.sinkDurable.advance(to: SinkDurablePosition.durable(progress, sourceFlush: session.feedback.flushPosition)) }
                if let metrics = observer.metrics {
                    metrics.observe(progress, serverWAL: session.feedback.received, sourceBytes: session.bytesReceived, now: Date().timeIntervalSince1970)
                    metrics.observe(stages: built.graph.counts)
                }
                guard options.progressInterval > 0, ContinuousClock.now - lastReport >= .milliseconds(Int64(options.progressInterval * 1000)) else { return }
                let elapsed = (ContinuousClock.now - lastReport).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                var line = StandardError()
                print("progress: \(progress.events) events (\(Int(Double(progress.events - lastEvents) / seconds))/s), \(progress.records) records, "
                    + "\(progress.deadLetters) dead letters, durable \(progress.durable), received \(progress.received)"
                    + (progress.snapshotStatus.map { "; " + $0 } ?? ""), to: &line)
                lastReport = .now
                lastEvents = progress.events
            })
            let progress = runner.progress
            observer.health.set(.stopped)
            print("stopped: \(progress.sourceTransactions) transactions, \(progress.records) records, durable at \(progress.durable)", to: &standardError)
            return 0
        } catch {
            observer.health.set(.failed(config.secrets.redact("\(error)")))
            print("error: \(error)", to: &standardError)
            return 1
        }
    }
}
