import Foundation
import PostgresSource

/// Renderings of a loaded pipeline for `outflow explain`; secrets appear redacted only.
extension PipelineConfig {
    /// A summary, the stage graph and the resolved configuration (defaults marked).
    public var explanation: String {
        var output = "pipeline \(name) (\(file)), guarantee \(guarantee.rawValue)\n"
        output += "source: postgres slot \(source.slot), publication \(source.publication), tables \(source.tables.map(\.description).joined(separator: ", "))\n"
        switch sink {
        case .log(let log):
            output += "sink: log \(log.dir), \(log.partitions) partition\(log.partitions == 1 ? "" : "s"), compression \(log.compression.rawValue)\n"
        case .kafka(let kafka):
            output += "sink: kafka \(kafka.bootstrapServers.redacted), transactional.id \(kafka.transactionalID), compression \(kafka.compression.rawValue), "
                + "checkpoints in \(kafka.checkpointTopic), stage state in \(kafka.stateDir)\n"
        case .postgres(let postgres):
            output += "sink: postgres \(postgres.displayURL), schema \(postgres.schema)"
                + (postgres.eventsTable.map { ", events in \($0)" } ?? "") + (postgres.upsertTable.map { ", newest per key in \($0)" } ?? "")
                + ", processed ids kept \(postgres.processedWindow)\n"
        }
        output += "dead letters: \(deadLetterTopic)\n\ngraph:\n"
        for id in graph.order {
            guard let stage = stage(id) else { continue }
            output += "  \(id) [\(stage.kind.type.rawValue)] ← \(stage.inputs.map(\.description).joined(separator: ", "))"
            if !stage.kind.outputNames.isEmpty { output += "  (outputs: \(stage.kind.outputNames.joined(separator: ", ")))" }
            output += "\n"
        }
        output += "  sink ← \(graph.sinkInputs.map(\.description).joined(separator: ", "))\n\nresolved:\n"
        output += resolved.redactedYAML.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
        return output
    }

    /// The stage graph in Graphviz dot: `outflow explain FILE --graph dot | dot -Tsvg`.
    public var graphDOT: String {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
        func node(_ input: StageInput) -> String { input.stage == StageConfig.sourceID ? "source" : "stage_" + input.stage }
        var lines = ["digraph \(quoted(name)) {", "  rankdir=LR;", "  node [shape=box];"]
        lines.append("  source [shape=cylinder, label=\(quoted("postgres\n\(source.tables.map(\.description).joined(separator: ", "))"))];")
        for stage in stages {
            lines.append("  \(node(StageInput(stage: stage.id))) [label=\(quoted("\(stage.id)\n[\(stage.kind.type.rawValue)]"))];")
        }
        lines.append("  sink [shape=cylinder, label=\(quoted(sink.log.map { "log\n\($0.dir)" } ?? sink.kafka.map { "kafka\n\($0.bootstrapServers.redacted)" } ?? "postgres\n\(sink.postgres!.displayURL)"))];")
        for id in graph.order {
            for input in graph.inputs[id] ?? [] {
                let label = input.output.map { " [label=\(quoted($0))]" } ?? ""
                lines.append("  \(node(input)) -> \(node(StageInput(stage: id)))\(label);")
            }
        }
        for input in graph.sinkInputs {
            let label = input.output.map { " [label=\(quoted($0))]" } ?? ""
            lines.append("  \(node(input)) -> sink\(label);")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
