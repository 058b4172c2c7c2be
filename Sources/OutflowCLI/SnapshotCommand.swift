import ArgumentParser
import Foundation
import Pipeline
import PostgresSource

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Asks a pipeline to read the rows its tables hold (a backfill), while it streams.",
        discussion: """
            Writes a request into the source database's WAL (a logical message): the running \
            `outflow run` of the file reads it in its own stream, ordered with the changes, and \
            backfills chunk by chunk between watermarks, so its log stays a consistent history. \
            If none is running, the next one does. The rows arrive as reads (op "r").
            """)

    @Argument(help: "The pipeline file.") var file: String
    @Option(name: .customLong("table"), help: "A table to read, schema.table (repeat for several; default: every table that is not an outbox).")
    var tables: [String] = []
    @Option(name: .customLong("where"), help: "Only the rows matching this SQL condition, e.g. \"created_at > '2024-01-01'\".")
    var filter: String?

    func validate() throws {
        for table in tables where TableName(table) == nil { throw ValidationError("--table \(table): not schema.table") }
        if let filter, filter.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--where is empty") }
    }

    func run() async throws {
        let config = try loadPipeline(file)
        var standardError = StandardError()
        do {
            let request = try SnapshotRequest.send(for: config, tables: tables.compactMap { TableName($0) }, filter: filter)
            print("snapshot \(request.id) requested: \(request.tables.map(\.description).joined(separator: ", "))"
                + (request.filter.map { " where \($0)" } ?? "") + "; pipeline \(config.name) reads it from slot \(request.slot)")
        } catch {
            print("error: \(config.secrets.redact("\(error)"))", to: &standardError)
            throw ExitCode.failure
        }
    }
}
