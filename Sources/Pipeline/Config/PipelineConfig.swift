/// A loaded, validated pipeline file: typed, with defaults applied, ids and inputs resolved
/// and the stage graph checked. What `outflow run` builds the pipeline from.
public struct PipelineConfig: Sendable {
    public var version: Int
    /// The pipeline's name; a valid topic-name component (it names the dead-letter topic).
    public var name: String
    public var source: PostgresSourceConfig
    /// In file order; `graph.order` gives an order that respects inputs.
    public var stages: [StageConfig]
    public var graph: StageGraph
    /// Where records go: the local log (`sink.log`), a Kafka cluster (`sink.kafka`) or tables of
    /// another PostgreSQL database (`sink.postgres`).
    public var sink: SinkConfig
    public var guarantee: DeliveryGuarantee
    public var deadLetterTopic: String
    public var runtime: RuntimeConfig = RuntimeConfig()
    /// Serve the log over Kafka's wire protocol from `outflow run`; nil: not served.
    public var serve: ServeConfig?
    /// The file it was loaded from, as given.
    public var file: String
    /// The resolved configuration with defaults and secrets redacted: safe to print.
    public var resolved: ConfigValue
    /// The secret values, to scrub from any message before it is shown.
    public var secrets: SecretValues

    public func stage(_ id: String) -> StageConfig? { stages.first { $0.id == id } }
}

public enum DeliveryGuarantee: String, Sendable, CaseIterable {
    /// Transactional appends and an atomic checkpoint: no loss, no duplicates for
    /// read_committed readers.
    case exactlyOnce = "exactly_once"
    /// Plain appends, then the checkpoint: no loss; duplicates possible after a crash.
    case atLeastOnce = "at_least_once"
    /// Acknowledge on receipt: no duplicates; a crash may lose what was in flight.
    case atMostOnce = "at_most_once"
}

/// The top level and the two one-key wrappers, `source:` and `sink:`.
enum PipelineFields {
    static let version = FieldSpec("version", .integer(1...Int.max), .required, doc: "Version of the pipeline file format: 1.")
    static let name = FieldSpec(
        "name", ValueSpec<String>.text(
            schema: .object([("type", .string("string")), ("pattern", .string(TopicNames.pattern)), ("maxLength", .int(200))]),
            expected: "a name", code: .invalidName,
            validate: { name in
                if let problem = TopicNames.problem(name, what: "pipeline name") {
                    return (problem.message, "the name is part of topic names: letters, digits, '.', '_' and '-'")
                }
                return name.count > 200 ? ("the pipeline name is longer than 200 characters", "it must leave room in topic names") : nil
            }, parse: { $0 }),
        .required, doc: "The pipeline's name, used in topic names (the dead-letter topic) and the default slot name.")
    static let source = FieldSpec("source", sourceValue, .required, doc: "Where changes come from.")
    static let stages = FieldSpec(
        "stages", stagesValue, .defaulted([], shown: .list([])), doc: "The stages events go through, in order unless inputs say otherwise.")
    static let sink = FieldSpec("sink", ValueSpec<Bool>.decodedByHand(sinkSpec.schema), .required, doc: "Where events go: exactly one of log, kafka and postgres.")
    static let guarantee = FieldSpec(
        "guarantee", ValueSpec<DeliveryGuarantee>.enumeration, .defaulted(.exactlyOnce, shown: .string("exactly_once")),
        doc: "Delivery guarantee: exactly_once, at_least_once or at_most_once.")
    static let deadLetter = FieldSpec(
        "dead_letter", deadLetterValue, .optional, doc: "Where events that fail or match no route go. Default topic: <name>.dead-letter.")

    static let serve = FieldSpec(
        "serve", ValueSpec<ServeConfig>.object(ServeConfig.spec, build: ServeConfig.decode), .optional, doc: ServeConfig.spec.doc)
    static let runtime = FieldSpec(
        "runtime", ValueSpec<RuntimeConfig>.object(RuntimeConfig.spec, build: RuntimeConfig.decode), .optional, doc: RuntimeConfig.spec.doc)

    static let spec = ObjectSpec(
        name: "the pipeline file", doc: "An Outflow pipeline: PostgreSQL changes through stages into a Kafka-format log.",
        fields: [version.schema, name.schema, source.schema, stages.schema, sink.schema, guarantee.schema, deadLetter.schema, runtime.schema, serve.schema])

    // `source:` holds one key naming the source type; only postgres exists today. Both are
    // decoded by the loader, which knows the pipeline's name (the default slot needs it).
    static let postgres = FieldSpec("postgres", ValueSpec<Bool>.decodedByHand(PostgresSourceConfig.spec.schema), .required, doc: PostgresSourceConfig.spec.doc)
    static let sourceSpec = ObjectSpec(name: "source", doc: "Where changes come from.", fields: [postgres.schema])
    static let sourceValue = ValueSpec<Bool>.decodedByHand(sourceSpec.schema)

    // `sink:` holds one key naming the sink: the log or Kafka. Decoded by the loader, which
    // knows the pipeline's name (the default transactional.id needs it).
    static let log = FieldSpec("log", ValueSpec<LogSinkConfig>.object(LogSinkConfig.spec, build: LogSinkConfig.decode), .optional, doc: LogSinkConfig.spec.doc)
    static let kafka = FieldSpec("kafka", ValueSpec<Bool>.decodedByHand(KafkaSinkConfig.spec.schema), .optional, doc: KafkaSinkConfig.spec.doc)
    static let postgresSink = FieldSpec(
        "postgres", ValueSpec<PostgresSinkConfig>.object(PostgresSinkConfig.spec, build: PostgresSinkConfig.decode), .optional,
        doc: PostgresSinkConfig.spec.doc)
    static let sinkSpec = ObjectSpec(
        name: "sink", doc: "Where events go: exactly one of log, kafka and postgres.", fields: [log.schema, kafka.schema, postgresSink.schema])

    static let deadLetterTopic = FieldSpec("topic", ValueSpec<String>.topicName, .required, doc: "The dead-letter topic.")
    static let deadLetterSpec = ObjectSpec(
        name: "dead_letter", doc: "Where events that fail or match no route go.", fields: [deadLetterTopic.schema], shorthand: "topic")
    static let deadLetterValue = ValueSpec<String>.object(deadLetterSpec) { reader, context in reader.read(deadLetterTopic, &context) }

    static let stagesValue = ValueSpec<[StageDraft]>(schema: .object([("type", .string("array")), ("items", StageConfig.itemSchema)])) { node, context in
        guard case .sequence(let sequence) = node else {
            context.log.error(.wrongType, "stages must be a list, found \(node.kindName)", at: node.location, hint: "write one '- type:' item per stage")
            return nil
        }
        let drafts = sequence.items.enumerated().compactMap { StageConfig.draft($1, position: $0, &context) }
        guard drafts.count == sequence.items.count else { return nil }
        return Decoded(value: drafts, shown: .list(drafts.map(\.shown)))
    }
}
