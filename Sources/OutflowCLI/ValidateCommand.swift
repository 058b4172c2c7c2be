import ArgumentParser
import Pipeline
import PostgresSource

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Checks a pipeline file without connecting to anything.",
        discussion: """
            Reads the file (and the files its ${file:…} references name) and checks keys, \
            types, values, expressions, interpolation and the stage graph. Every problem is \
            reported as file:line:col: error: message, with the line, a caret and a hint. \
            With --online it also connects and checks what running needs of the server; \
            exit status 1 when the server is not ready. \
            Exit status: 0 valid, 78 invalid.
            """)

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: "Output format: text, or json (on standard output) for tools.")
    var format: OutputFormat = .text

    @Flag(help: "Also connect to the source and check wal_level, server version, privileges, replica identity, slot and publication.")
    var online = false

    func run() async throws {
        let config = try loadPipeline(file, format: format)
        if online { try checkOnline(config) }
        switch format {
        case .text:
            let stages = config.stages.count
            print("\(file): OK: pipeline \(config.name), \(stages) stage\(stages == 1 ? "" : "s"), "
                + "\(config.source.tables.count) table\(config.source.tables.count == 1 ? "" : "s"), "
                + "\(config.sink.log.map { "\($0.partitions) partition\($0.partitions == 1 ? "" : "s")" } ?? "into Kafka"), \(config.guarantee.rawValue)")
        case .json:
            print(diagnosticsJSON(file: file, []).rendered())
        }
    }
}

extension ValidateCommand {
    /// The server-side checks `run` would fail on, reported before anything runs. Problems
    /// that `run` fixes itself (a missing slot or publication) are reported as lines only.
    func checkOnline(_ config: PipelineConfig) throws {
        var standardError = StandardError()
        do {
            let url = try ConnectionString(config.source.url.value)
            let connection = try PostgresConnection(url, mode: .replication)
            let report = try connection.preflight(PreflightRequirements(
                tables: config.source.tables, slot: config.source.slot, publication: config.source.publication,
                operations: config.source.publish.compactMap { PublishedOperation(rawValue: $0.rawValue) }))
            for line in report.lines { print("\(file): online: \(line)", to: &standardError) }
            // sink.postgres: the target database, and what it lacks when the sink may not create it.
            var sinkProblems: [String] = []
            if let postgres = config.sink.postgres {
                let target = try PostgresSink.checkTarget(postgres)
                for line in target.lines { print("\(file): online: \(config.secrets.redact(line))", to: &standardError) }
                sinkProblems = target.problems
            }
            guard report.isReady, sinkProblems.isEmpty else {
                for problem in report.problems { print("\(file): online: error: \(config.secrets.redact(problem.description))", to: &standardError) }
                for problem in sinkProblems { print("\(file): online: error: sink.postgres: \(config.secrets.redact(problem))", to: &standardError) }
                throw ExitCode.failure
            }
        } catch let error as PostgresError {
            print("\(file): online: error: \(config.secrets.redact(error.description))", to: &standardError)
            throw ExitCode.failure
        }
    }
}
