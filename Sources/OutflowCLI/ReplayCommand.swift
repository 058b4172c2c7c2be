import ArgumentParser
import Foundation
import Logging
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-runs a pipeline's stages over the retained changelog from a WAL position.",
        discussion: """
            A logical slot cannot be rewound, so replay reads the changes the pipeline kept in its \
            log (source.postgres.changelog) and runs the current stages over them, into the \
            pipeline's topics or, with --into, into topics with that suffix. It commits like the \
            live pipeline and never moves its resume position. Stop the pipeline first: one \
            process writes a log at a time.
            """)

    @Argument(help: "The pipeline file.") var file: String
    @Option(help: ArgumentHelp("First source position to replay (a commit LSN).", valueName: "X/Y")) var fromLSN: String
    @Option(help: ArgumentHelp("Last source position to replay.", valueName: "X/Y")) var toLSN: String?
    @Option(help: ArgumentHelp("Write into <topic><suffix> instead of the pipeline's topics, e.g. .replay.", valueName: "suffix"))
    var into: String?
    @OptionGroup var logging: LogOptions

    func validate() throws {
        guard LSN(fromLSN) != nil else { throw ValidationError("--from-lsn \(fromLSN): not a WAL position (X/Y, hexadecimal)") }
        if let toLSN {
            guard let end = LSN(toLSN) else { throw ValidationError("--to-lsn \(toLSN): not a WAL position (X/Y, hexadecimal)") }
            guard end >= LSN(fromLSN)! else { throw ValidationError("--to-lsn is before --from-lsn") }
        }
        if let into, into.isEmpty { throw ValidationError("--into needs a suffix") }
    }

    func run() async throws {
        let config = try loadPipeline(file)
        var standardError = StandardError()
        logging.bootstrap(secrets: config.secrets)
        let logger = Logger(label: "outflow")
        // Long replays say how far they are: a live line on a terminal, a line every few seconds otherwise.
        var line = ProgressLine()
        do {
            let built = try PipelineBuilder.build(config)
            guard let sink = config.sink.log, let logConfig = built.logConfig else {
                throw PipelineError(.configuration, "replay reads the changelog of sink.log; this pipeline writes into Kafka")
            }
            let writer = try LogWriter.open(directory: sink.dir, config: logConfig, logger: logger)
            // Finished or stopped, replay leaves the clean shutdown marker; after a failure the
            // writer declines (the next open recovers).
            defer { writer.closeCleanly() }
            let replayer = Replayer(
                graph: built.graph, writer: writer, settings: built.runner, topicSuffix: into,
                rowDecoder: RowDecoder(connectionString: built.connectionString), logger: logger)
            let stop = StopSignal()
            stop.install()
            try replayer.replay(from: LSN(fromLSN)!, through: toLSN.flatMap { LSN($0) }, shouldStop: { stop.isRequested }, report: { progress in
                line.update("replay: \(progress.sourceTransactions) transactions, \(progress.records) records, at \(progress.last)")
            })
            line.finish()
            let progress = replayer.progress
            print("replayed \(progress.sourceTransactions) transactions (\(progress.changes) changes) into \(progress.records) records"
                + "\(progress.deadLetters > 0 ? ", \(progress.deadLetters) dead letters" : ""), last position \(progress.last)")
        } catch {
            line.finish()
            print("error: \(config.secrets.redact("\(error)"))", to: &standardError)
            throw ExitCode.failure
        }
    }
}
