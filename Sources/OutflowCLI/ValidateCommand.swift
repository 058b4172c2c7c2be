import ArgumentParser
import Pipeline

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Checks a pipeline file without connecting to anything.",
        discussion: """
            Reads the file (and the files its ${file:…} references name) and checks keys, \
            types, values, expressions, interpolation and the stage graph. Every problem is \
            reported as file:line:col: error: message, with the line, a caret and a hint. \
            Exit status: 0 valid, 78 invalid.
            """)

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: "Output format: text, or json (on standard output) for tools.")
    var format: OutputFormat = .text

    func run() async throws {
        let config = try loadPipeline(file, format: format)
        switch format {
        case .text:
            let stages = config.stages.count
            print("\(file): OK: pipeline \(config.name), \(stages) stage\(stages == 1 ? "" : "s"), "
                + "\(config.source.tables.count) table\(config.source.tables.count == 1 ? "" : "s"), "
                + "\(config.sink.partitions) partition\(config.sink.partitions == 1 ? "" : "s"), \(config.guarantee.rawValue)")
        case .json:
            print(diagnosticsJSON(file: file, []).rendered())
        }
    }
}
