import Foundation
import Yams

/// Loads pipeline files.
///
///     let config = try PipelineFile.load(path: "pipelines/outbox.yaml")
///
/// Every problem in the file is collected and thrown together as a `PipelineFileError`
/// whose description renders them as `file:line:col: error: message`, the line, a caret
/// and a hint.
public enum PipelineFile {
    /// The only version of the format so far.
    public static let currentVersion = 1

    /// Reads and validates the file at `path`. `${file:…}` paths are relative to the file's
    /// directory. Nothing else is read and nothing is connected to.
    public static func load(path: String, environment: ConfigEnvironment = .process) throws(PipelineFileError) -> PipelineConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PipelineFileError(
                diagnostics: [PipelineDiagnostic(
                    .unreadableFile, "cannot read the file: \((error as NSError).localizedDescription)",
                    at: FileLocation(file: path, line: 1, column: 1))],
                sourceText: "")
        }
        return try parse(yaml: text, file: path, baseDirectory: (path as NSString).deletingLastPathComponent, environment: environment)
    }

    /// Validates a pipeline given as text; `file` names it in messages.
    public static func parse(
        yaml: String, file: String = "pipeline.yaml", baseDirectory: String = ".", environment: ConfigEnvironment = .process
    ) throws(PipelineFileError) -> PipelineConfig {
        var context = DecodingContext(sourceText: yaml)
        func fail() -> PipelineFileError { PipelineFileError(diagnostics: context.log.diagnostics, sourceText: yaml) }

        let document: Node?
        do {
            document = try Yams.compose(yaml: yaml)
        } catch {
            context.log.append(syntaxDiagnostic(error, file: file, yaml: yaml))
            throw fail()
        }
        guard let document else {
            context.log.error(.missingField, "the file is empty", at: FileLocation(file: file, line: 1, column: 1),
                              hint: "a pipeline needs version, name, source, sink")
            throw fail()
        }
        var builder = ConfigNodeBuilder(
            file: file, interpolation: Interpolation(environment: environment, baseDirectory: baseDirectory.isEmpty ? "." : baseDirectory))
        let root = builder.build(document)
        for diagnostic in builder.log.diagnostics { context.log.append(diagnostic) }
        guard let root else { throw fail() }

        let top = ObjectReader(root, spec: PipelineFields.spec, context: &context)
        guard top.isMapping else { throw fail() }

        let version = top.read(PipelineFields.version, &context)
        if let version, version != currentVersion, let node = top.node(PipelineFields.version.name) {
            context.log.error(.unsupportedVersion, "unsupported version \(version)", at: node.location,
                              hint: "this outflow reads version \(currentVersion)")
        }
        let name = top.read(PipelineFields.name, &context)
        let source = decodeSource(top, pipelineName: name, &context)
        context.sourceTables = source?.tables
        let sink = decodeSink(top, pipelineName: name, &context)
        context.sinkPartitions = sink?.log?.partitions
        let drafts = top.read(PipelineFields.stages, &context)
        let guarantee = top.read(PipelineFields.guarantee, &context)
        var deadLetterTopic = top.read(PipelineFields.deadLetter, &context)
        let runtime = top.read(PipelineFields.runtime, &context)
        let serve = top.read(PipelineFields.serve, &context)
        let serveInvalid = top.has(PipelineFields.serve.name) && serve == nil
        // Serving and the changelog read the local log: a Kafka or Postgres sink has none.
        if let sink, sink.log == nil {
            let name = sink.kafka != nil ? "sink.kafka" : "sink.postgres"
            let where_ = sink.kafka != nil ? "the Kafka cluster" : "the target database"
            if serve != nil, let location = top.keyLocation(PipelineFields.serve.name) {
                context.log.error(.conflictingOptions, "serve needs sink.log: with \(name), consumers read \(where_)", at: location,
                                  length: PipelineFields.serve.name.count, hint: "remove serve")
            }
            if source?.changelog != nil {
                context.log.error(.conflictingOptions, "source.postgres.changelog needs sink.log (replay from \(where_) is not supported yet)",
                                  at: top.keyLocation(PipelineFields.source.name) ?? top.location, hint: "remove changelog, or write to sink.log")
            }
        }
        if !top.has(PipelineFields.deadLetter.name), let name {
            let topic = "\(name).dead-letter"
            if let problem = TopicNames.problem(topic, what: "dead-letter topic") {
                context.log.error(.invalidTopicName, problem.message, at: top.node(PipelineFields.name.name)?.location ?? top.location,
                                  hint: "shorten the name, or set dead_letter: {topic: …}")
            } else {
                deadLetterTopic = topic
                top.show(PipelineFields.deadLetter.name, .object([ConfigValue.Member(key: "topic", value: .string(topic), isDefault: true)]))
            }
        }

        var stages: [StageConfig] = []
        var graph: StageGraph?
        // The graph is checked even when some stage's options are invalid, so its errors are
        // reported in the same run.
        if let drafts, let built = StageGraph.build(drafts, &context) {
            if drafts.allSatisfy({ $0.kind != nil }) {
                graph = built.graph
                for (position, draft) in drafts.enumerated() {
                    stages.append(StageConfig(
                        id: built.ids[position], hasExplicitID: draft.id != nil, inputs: built.inputs[position], kind: draft.kind!,
                        location: draft.location))
                }
                top.replace(PipelineFields.stages.name, with: .list(zip(stages, drafts).map { stage, draft in
                    var members: [ConfigValue.Member] = [
                        ConfigValue.Member(key: "id", value: .string(stage.id), isDefault: draft.id == nil),
                        ConfigValue.Member(key: "inputs", value: .list(stage.inputs.map { .string($0.description) }), isDefault: draft.inputs == nil),
                    ]
                    if case .object(let written) = draft.shown {
                        members += written.filter { $0.key != "id" && $0.key != "inputs" }
                    }
                    return .object(members)
                }))
            }
        }

        // Snapshots: their progress commits with their rows, and an outbox has no rows worth reading.
        if let source, source.snapshot != .never, let location = source.snapshotLocation {
            if let guarantee, guarantee != .exactlyOnce {
                context.log.error(.invalidValue, "snapshot: \(source.snapshot.rawValue) needs guarantee exactly_once", at: location,
                                  hint: "a snapshot's progress is committed with the rows it writes; set guarantee: exactly_once or snapshot: never")
            }
            let outboxTables = Set(stages.compactMap { if case .outbox(let outbox) = $0.kind { outbox.table } else { nil } })
            if source.tables.allSatisfy(outboxTables.contains) {
                context.log.error(.invalidValue, "snapshot: \(source.snapshot.rawValue) has nothing to read: every table is an outbox table", at: location,
                                  hint: "old outbox rows are not events, so outbox tables are never snapshotted; set snapshot: never")
            }
        }
        guard context.log.isEmpty, !serveInvalid, let version, let name, var source, let sink, let guarantee, let deadLetterTopic, let graph else {
            throw fail()
        }
        // An outbox is only ever inserted into: publish inserts alone unless the file says otherwise.
        let outboxTables = Set(stages.compactMap { if case .outbox(let outbox) = $0.kind { outbox.table } else { nil } })
        if source.publishIsDefault, !outboxTables.isEmpty, source.tables.allSatisfy(outboxTables.contains) {
            source.publish = [.insert]
            top.replace(PipelineFields.source.name, with: top.shown.member("source")?.replacing(
                path: ["postgres", "publish"], with: .list([.string("insert")])) ?? .object([]))
        }
        return PipelineConfig(
            version: version, name: name, source: source, stages: stages, graph: graph, sink: sink, guarantee: guarantee,
            deadLetterTopic: deadLetterTopic, runtime: runtime ?? RuntimeConfig(), serve: serve, file: file, resolved: top.shown, secrets: context.secrets)
    }

    private static func decodeSink(_ top: ObjectReader, pipelineName: String?, _ context: inout DecodingContext) -> SinkConfig? {
        guard let node = top.node(PipelineFields.sink.name) else {
            _ = top.read(PipelineFields.sink, &context)  // reports it missing
            return nil
        }
        let sinkReader = ObjectReader(node, spec: PipelineFields.sinkSpec, context: &context)
        guard sinkReader.isMapping else { return nil }
        let present = [PipelineFields.log.name, PipelineFields.kafka.name, PipelineFields.postgresSink.name].filter { sinkReader.has($0) }
        guard present.count == 1 else {
            context.log.error(
                present.isEmpty ? .missingField : .conflictingOptions,
                present.isEmpty ? "missing required field 'log', 'kafka' or 'postgres' in sink" : "sink has both \(present.joined(separator: " and "))",
                at: sinkReader.location,
                hint: "write exactly one: sink: {log: {dir: …}}, sink: {kafka: {bootstrap_servers: …}} or sink: {postgres: {url: …}}")
            return nil
        }
        let config: SinkConfig?
        if present[0] == PipelineFields.log.name {
            config = sinkReader.read(PipelineFields.log, &context).map(SinkConfig.log)
        } else if present[0] == PipelineFields.postgresSink.name {
            config = sinkReader.read(PipelineFields.postgresSink, &context).map(SinkConfig.postgres)
        } else {
            let reader = ObjectReader(sinkReader.node(PipelineFields.kafka.name)!, spec: KafkaSinkConfig.spec, context: &context)
            guard reader.isMapping else { return nil }
            config = KafkaSinkConfig.decode(reader, pipelineName: pipelineName, &context).map(SinkConfig.kafka)
            sinkReader.show(PipelineFields.kafka.name, reader.shown, isDefault: false)
        }
        top.show(PipelineFields.sink.name, sinkReader.shown, isDefault: false)
        return config
    }

    private static func decodeSource(_ top: ObjectReader, pipelineName: String?, _ context: inout DecodingContext) -> PostgresSourceConfig? {
        guard let node = top.node(PipelineFields.source.name) else {
            _ = top.read(PipelineFields.source, &context)  // reports it missing
            return nil
        }
        let sourceReader = ObjectReader(node, spec: PipelineFields.sourceSpec, context: &context)
        guard sourceReader.isMapping else { return nil }
        guard let postgresNode = sourceReader.node(PipelineFields.postgres.name) else {
            context.log.error(.missingField, "missing required field 'postgres' in source", at: sourceReader.location,
                              hint: "the source is PostgreSQL: source: {postgres: {url: …, tables: […]}}")
            return nil
        }
        let reader = ObjectReader(postgresNode, spec: PostgresSourceConfig.spec, context: &context)
        guard reader.isMapping else { return nil }
        let config = PostgresSourceConfig.decode(reader, pipelineName: pipelineName, &context)
        top.show(PipelineFields.source.name, .object([ConfigValue.Member(key: "postgres", value: reader.shown, isDefault: false)]), isDefault: false)
        return config
    }

    /// The next line of the same block mapping that sets `key` again: same indentation, until
    /// the mapping ends (a line indented less). Nil for flow mappings and anything unusual.
    static func repeatedKey(_ key: String, after first: Mark, in yaml: String) -> (line: Int, column: Int)? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.indices.contains(first.line - 1) else { return nil }
        let indent = first.column - 1
        for index in first.line..<lines.count {
            let line = Array(lines[index].unicodeScalars)
            let leading = line.prefix { $0 == " " }.count
            if leading == line.count || line[leading] == "#" { continue }
            if leading < indent { return nil }
            guard leading == indent else { continue }
            let rest = String(String.UnicodeScalarView(line[leading...]))
            if rest.hasPrefix(key), rest.dropFirst(key.count).drop(while: { $0 == " " }).hasPrefix(":") {
                return (index + 1, first.column)
            }
        }
        return nil
    }

    /// A Yams error as a diagnostic at its position.
    static func syntaxDiagnostic(_ error: any Error, file: String, yaml: String) -> PipelineDiagnostic {
        func at(_ mark: Mark) -> FileLocation { FileLocation(file: file, line: mark.line, column: mark.column) }
        guard let yamlError = error as? YamlError else {
            return PipelineDiagnostic(.yamlSyntax, "cannot parse the YAML: \(error)", at: FileLocation(file: file, line: 1, column: 1))
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let hint = context.map { "\($0.text) that starts at line \($0.mark.line), column \($0.mark.column)" }
            return PipelineDiagnostic(.yamlSyntax, "invalid YAML: \(problem)", at: at(mark), hint: hint)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let message = "duplicate key\(duplicates.count == 1 ? "" : "s") \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in a mapping"
            // Yams points at the first occurrence; the mistake is usually the later one.
            if duplicates.count == 1, let second = repeatedKey(duplicates[0], after: context.mark, in: yaml) {
                return PipelineDiagnostic(
                    .duplicateKey, message, at: FileLocation(file: file, line: second.line, column: second.column),
                    length: duplicates[0].unicodeScalars.count,
                    hint: "'\(duplicates[0])' is already set at line \(context.mark.line); a key may appear once in a mapping")
            }
            return PipelineDiagnostic(.duplicateKey, message, at: at(context.mark), hint: "a key may appear once in a mapping")
        case .reader(let problem, let offset, _, _):
            var line = 1, column = 1
            if let offset {
                for character in yaml.prefix(offset) {
                    if character == "\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
            return PipelineDiagnostic(.yamlSyntax, "cannot read the file: \(problem)", at: FileLocation(file: file, line: line, column: column))
        default:
            return PipelineDiagnostic(.yamlSyntax, "cannot parse the YAML: \(yamlError)", at: FileLocation(file: file, line: 1, column: 1))
        }
    }
}
