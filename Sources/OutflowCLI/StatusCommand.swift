import ArgumentParser
import Foundation
import Pipeline
import PostgresSource

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Shows a pipeline's state: the log's positions, partitions and groups, and its slot.",
        discussion: """
            With a pipeline file: its log and its replication slot as the server sees it (lag, \
            retained WAL, wal_status). With --log DIR: the log alone, no server needed. Works while \
            the pipeline runs and when it is stopped.
            """)

    @Argument(help: "The pipeline file.") var file: String?
    @Option(help: "A log directory (instead of a pipeline file).") var log: String?
    @Flag(help: "One JSON document instead of text.") var json = false

    func validate() throws {
        if (file == nil) == (log == nil) { throw ValidationError("give a pipeline file or --log DIR") }
    }

    func run() async throws {
        var standardError = StandardError()
        var secrets: SecretValues?
        do {
            let status: PipelineStatus
            if let file {
                let config = try loadPipeline(file)
                secrets = config.secrets
                let connectionString = try PipelineBuilder.build(config).connectionString
                guard let sink = config.sink.log else {
                    throw PipelineError(.configuration, "status reads the log of sink.log; this pipeline writes into Kafka (see its checkpoint topic)")
                }
                status = try PipelineStatus.read(logDirectory: sink.dir, source: (connectionString, config.source.slot))
            } else {
                status = try PipelineStatus.read(logDirectory: log!)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
            } else {
                print(status.text)
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            print("error: \(secrets?.redact("\(error)") ?? "\(error)")", to: &standardError)
            throw ExitCode.failure
        }
    }
}
