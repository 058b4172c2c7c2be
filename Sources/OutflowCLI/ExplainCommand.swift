import ArgumentParser
import Pipeline

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Prints the resolved, redacted pipeline and its stage graph.",
        discussion: "Secrets (values from ${env:…} and ${file:…}) are shown by reference only.")

    enum GraphFormat: String, ExpressibleByArgument, CaseIterable {
        case dot
    }

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: "Print only the stage graph, in Graphviz dot.")
    var graph: GraphFormat?

    @Option(help: "Output format: text, or json (the resolved configuration).")
    var format: OutputFormat = .text

    func run() async throws {
        let config = try loadPipeline(file, format: format)
        if graph == .dot {
            print(config.graphDOT, terminator: "")
            return
        }
        switch format {
        case .text: print(config.explanation, terminator: "")
        case .json: print(config.resolved.json.rendered())
        }
    }
}
