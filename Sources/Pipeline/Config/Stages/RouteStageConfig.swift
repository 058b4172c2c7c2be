/// `route`: picks each event's topic, or splits the stream into named outputs that other
/// stages take as inputs (`id.output`).
public struct RouteStageConfig: Sendable, Equatable {
    public enum Routing: Sendable, Equatable {
        /// `topic: orders.${lower(headers.type)}`: every event's topic from a template.
        case template(EventTemplate)
        /// `by: headers.type` + `topics: {OrderCreated: orders.created, …}`: the topic looked
        /// up by the expression's value (as text).
        case table(by: EventExpression, topics: [TopicEntry])
        /// `outputs: {big: payload.amount > 1000, …}`: each event goes to every output whose
        /// condition is true.
        case outputs([NamedOutput])
    }

    public struct TopicEntry: Sendable, Equatable {
        public var value: String
        public var topic: String

        public init(value: String, topic: String) {
            self.value = value
            self.topic = topic
        }
    }

    public struct NamedOutput: Sendable, Equatable {
        public var name: String
        public var condition: EventExpression

        public init(name: String, condition: EventExpression) {
            self.name = name
            self.condition = condition
        }
    }

    public enum Unmatched: String, Sendable, CaseIterable {
        case drop
        /// To the pipeline's dead-letter topic, with the reason in a header.
        case deadLetter = "dead_letter"
        /// Stop the pipeline.
        case fail
    }

    public var routing: Routing
    /// What happens to an event no rule matches (or whose template part is null).
    public var unmatched: Unmatched

    /// The output names other stages can address, empty unless routing by outputs.
    public var outputNames: [String] {
        if case .outputs(let outputs) = routing { return outputs.map(\.name) }
        return []
    }

    public init(routing: Routing, unmatched: Unmatched = .deadLetter) {
        self.routing = routing
        self.unmatched = unmatched
    }
}

extension RouteStageConfig {
    enum Fields {
        static let topic = FieldSpec("topic", .topicTemplate, .optional, doc: "Topic template, as in orders.${lower(headers.type)}.")
        static let by = FieldSpec("by", .expression, .optional, doc: "With topics: the expression whose value picks the topic.")
        static let topics = FieldSpec(
            "topics", .entries(keyedBy: "a value of 'by'", of: .topicName), .optional,
            doc: "With by: value: topic, as in OrderCreated: orders.created.")
        static let outputs = FieldSpec(
            "outputs", .entries(keyedBy: "an output name", of: .condition, validateKey: outputNameProblem), .optional,
            doc: "Named outputs with their conditions; other stages take them as inputs: [this-id.name].")
        static let unmatched = FieldSpec(
            "unmatched", .enumeration, .defaulted(Unmatched.deadLetter, shown: .string("dead_letter")),
            doc: "What happens to an event nothing matches: drop, dead_letter or fail.")
    }

    @Sendable static func outputNameProblem(_ name: String) -> (message: String, hint: String?)? {
        StageConfig.idProblem(name).map { ("invalid output name '\(name)'", $0.hint) }
    }

    static let spec = ObjectSpec(
        name: "route stage",
        doc: "Sets topics by template or by a table of values, or splits events into named outputs.",
        fields: [Fields.topic.schema, Fields.by.schema, Fields.topics.schema, Fields.outputs.schema, Fields.unmatched.schema])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> RouteStageConfig? {
        let topic = reader.read(Fields.topic, &context), by = reader.read(Fields.by, &context)
        let topics = reader.read(Fields.topics, &context), outputs = reader.read(Fields.outputs, &context)
        let unmatched = reader.read(Fields.unmatched, &context)
        let hasTopic = reader.has(Fields.topic.name), hasTable = reader.has(Fields.by.name) || reader.has(Fields.topics.name)
        let hasOutputs = reader.has(Fields.outputs.name)
        let modes = [hasTopic, hasTable, hasOutputs].filter { $0 }.count
        guard modes == 1 else {
            context.log.error(
                modes == 0 ? .missingField : .conflictingOptions,
                modes == 0 ? "route stage needs topic, by + topics, or outputs" : "route stage mixes topic, by/topics and outputs",
                at: reader.location, hint: "use one way of routing per stage; chain two route stages for both")
            return nil
        }
        if hasTable && (reader.has(Fields.by.name) != reader.has(Fields.topics.name)) {
            let missing = reader.has(Fields.by.name) ? Fields.topics.name : Fields.by.name
            context.log.error(.missingField, "route stage has \(missing == "by" ? "topics" : "by") without \(missing)", at: reader.location,
                              hint: "by picks a value, topics maps each value to a topic")
            return nil
        }
        guard let unmatched else { return nil }
        if hasTopic, let topic { return RouteStageConfig(routing: .template(topic), unmatched: unmatched) }
        if hasTable, let by, let topics {
            return RouteStageConfig(
                routing: .table(by: by, topics: topics.map { TopicEntry(value: $0.key, topic: $0.value) }), unmatched: unmatched)
        }
        if hasOutputs, let outputs {
            if outputs.isEmpty {
                context.log.error(.invalidValue, "outputs is empty", at: reader.keyLocation(Fields.outputs.name) ?? reader.location)
                return nil
            }
            return RouteStageConfig(
                routing: .outputs(outputs.map { NamedOutput(name: $0.key, condition: $0.value) }), unmatched: unmatched)
        }
        return nil
    }
}
