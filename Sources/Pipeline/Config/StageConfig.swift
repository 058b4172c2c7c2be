/// One stage of the pipeline, resolved: its id (given or generated), its inputs (given, or
/// the previous stage) and its typed options.
public struct StageConfig: Sendable, Equatable {
    public var id: String
    /// True when the file named the stage; generated ids are `<type>` or `<type>-<position>`.
    public var hasExplicitID: Bool
    public var inputs: [StageInput]
    public var kind: StageKind
    /// Where the stage starts in the file, for runtime messages about it.
    public var location: FileLocation

    /// The reserved input name of the pipeline's source.
    public static let sourceID = "source"

    public init(id: String, hasExplicitID: Bool = true, inputs: [StageInput], kind: StageKind, location: FileLocation) {
        self.id = id
        self.hasExplicitID = hasExplicitID
        self.inputs = inputs
        self.kind = kind
        self.location = location
    }
}

/// What a stage reads: the source, a stage, or a named output of a route (`route_id.name`).
public struct StageInput: Sendable, Hashable, CustomStringConvertible {
    public var stage: String
    public var output: String?

    public init(stage: String, output: String? = nil) {
        self.stage = stage
        self.output = output
    }

    public static let source = StageInput(stage: StageConfig.sourceID)

    init(parsing text: String) {
        if let dot = text.firstIndex(of: ".") {
            self.init(stage: String(text[..<dot]), output: String(text[text.index(after: dot)...]))
        } else {
            self.init(stage: text)
        }
    }

    public var description: String { output.map { "\(stage).\($0)" } ?? stage }
}

public enum StageKind: Sendable, Equatable {
    case outbox(OutboxStageConfig)
    case filter(FilterStageConfig)
    case map(MapStageConfig)
    case route(RouteStageConfig)
    case key(KeyStageConfig)
    case dedupe(DedupeStageConfig)
    case order(OrderStageConfig)
    case batch(BatchStageConfig)

    public var type: StageType {
        switch self {
        case .outbox: .outbox
        case .filter: .filter
        case .map: .map
        case .route: .route
        case .key: .key
        case .dedupe: .dedupe
        case .order: .order
        case .batch: .batch
        }
    }

    /// Named outputs other stages address as `id.name` (route stages with `outputs`).
    public var outputNames: [String] {
        if case .route(let route) = self { return route.outputNames }
        return []
    }
}

public enum StageType: String, Sendable, CaseIterable {
    case outbox, filter, map, route, key, dedupe, order, batch

    var spec: ObjectSpec {
        switch self {
        case .outbox: OutboxStageConfig.spec
        case .filter: FilterStageConfig.spec
        case .map: MapStageConfig.spec
        case .route: RouteStageConfig.spec
        case .key: KeyStageConfig.spec
        case .dedupe: DedupeStageConfig.spec
        case .order: OrderStageConfig.spec
        case .batch: BatchStageConfig.spec
        }
    }

    func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> StageKind? {
        switch self {
        case .outbox: OutboxStageConfig.decode(reader, &context).map(StageKind.outbox)
        case .filter: FilterStageConfig.decode(reader, &context).map(StageKind.filter)
        case .map: MapStageConfig.decode(reader, &context).map(StageKind.map)
        case .route: RouteStageConfig.decode(reader, &context).map(StageKind.route)
        case .key: KeyStageConfig.decode(reader, &context).map(StageKind.key)
        case .dedupe: DedupeStageConfig.decode(reader, &context).map(StageKind.dedupe)
        case .order: OrderStageConfig.decode(reader, &context).map(StageKind.order)
        case .batch: BatchStageConfig.decode(reader, &context).map(StageKind.batch)
        }
    }
}

/// A stage as written, before ids and inputs are resolved into the graph.
struct StageDraft {
    var id: String?
    var idLocation: FileLocation?
    var inputs: [(input: StageInput, location: FileLocation)]?
    var type: StageType
    var kind: StageKind?
    var location: FileLocation
    var shown: ConfigValue
}

extension StageConfig {
    enum Fields {
        static let id = FieldSpec(
            "id", ValueSpec<String>.text(
                schema: .object([("type", .string("string")), ("pattern", .string(idPattern))]), expected: "a stage id",
                code: .invalidName, validate: idProblem, parse: { $0 }),
            .optional, doc: "The stage's id, for inputs of other stages. Default: the type, or <type>-<position> when repeated.")
        static let inputs = FieldSpec(
            "inputs", .list(of: ValueSpec<String>.text(
                schema: .object([("type", .string("string")), ("pattern", .string(inputPattern))]), expected: "a stage id",
                validate: { _ in nil }, parse: { $0 }), minimum: 1),
            .optional, doc: "Stages (or route outputs, id.name, or 'source') this stage reads. Default: the previous stage.")
    }

    static let idPattern = "^[a-zA-Z][a-zA-Z0-9_-]*$"
    static let inputPattern = "^[a-zA-Z][a-zA-Z0-9_-]*(\\.[a-zA-Z][a-zA-Z0-9_-]*)?$"

    @Sendable static func idProblem(_ id: String) -> (message: String, hint: String?)? {
        let valid = id.unicodeScalars.first.map { $0.isASCII && $0.properties.isAlphabetic } ?? false
            && id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
        if !valid { return ("invalid stage id '\(id)'", "ids start with a letter and use letters, digits, '_' and '-'") }
        if id == sourceID { return ("'source' is reserved for the pipeline's source", "choose another id") }
        return nil
    }

    /// The JSON Schema of one list item of `stages`: an object with id, inputs and exactly one
    /// stage type key.
    static var itemSchema: JSONDocument {
        // A stage whose options all have defaults may be written bare (`- batch`) or empty
        // (`- batch:`).
        let optionless = StageType.allCases.filter { !$0.spec.fields.contains(where: \.isRequired) }
        let bare: JSONDocument = .object([
            ("description", .string("a stage with all options at their defaults")),
            ("enum", .array(optionless.map { .string($0.rawValue) })),
        ])
        return .object([("oneOf", .array([bare] + StageType.allCases.map { type in
            let options = optionless.contains(type)
                ? .object([("oneOf", .array([type.spec.schema, .object([("type", .string("null"))])]))]) : type.spec.schema
            return .object([
                ("type", .string("object")),
                ("description", .string(type.spec.doc)),
                ("properties", .object([
                    ("id", Fields.id.schema.schema), ("inputs", Fields.inputs.schema.schema), (type.rawValue, options),
                ])),
                ("required", .array([.string(type.rawValue)])),
                ("patternProperties", .object([("^x-", .object([]))])),
                ("additionalProperties", .bool(false)),
            ])
        }))])
    }

    static let stageKeyNames = [Fields.id.name, Fields.inputs.name] + StageType.allCases.map(\.rawValue)

    /// Decodes one item of `stages`.
    static func draft(_ node: ConfigNode, position: Int, _ context: inout DecodingContext) -> StageDraft? {
        if case .scalar(let scalar) = node, let type = StageType(rawValue: scalar.text) {
            // `- batch` alone: the stage with its defaults.
            let reader = ObjectReader(.mapping(ConfigMapping(entries: [], location: scalar.location)), spec: type.spec, context: &context)
            let kind = type.decode(reader, &context)
            return StageDraft(id: nil, idLocation: nil, inputs: nil, type: type, kind: kind, location: scalar.location,
                              shown: .object([ConfigValue.Member(key: type.rawValue, value: reader.shown, isDefault: false)]))
        }
        guard case .mapping(let mapping) = node else {
            var hint = "stage types: \(StageType.allCases.map(\.rawValue).joined(separator: ", "))"
            if case .scalar(let scalar) = node, let suggestion = Suggestions.didYouMean(scalar.text, among: StageType.allCases.map(\.rawValue)) {
                hint = suggestion
            }
            context.log.error(.wrongType, "a stage must be a mapping with one stage type key, found \(node.kindName)", at: node.location,
                              hint: hint)
            return nil
        }
        var typeEntries: [ConfigMapping.Entry] = []
        var reportedUnknownKey = false
        for entry in mapping.entries {
            if StageType(rawValue: entry.key.text) != nil {
                typeEntries.append(entry)
            } else if !stageKeyNames.contains(entry.key.text) && !entry.key.text.hasPrefix("x-") {
                reportedUnknownKey = true
                context.log.error(
                    .unknownKey, "unknown key '\(entry.key.text)' in stage \(position + 1)", at: entry.key.location,
                    length: entry.key.text.unicodeScalars.count,
                    hint: Suggestions.didYouMean(entry.key.text, among: stageKeyNames)
                        ?? "a stage has id, inputs and one of \(StageType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        guard typeEntries.count == 1, let typeEntry = typeEntries.first, let type = StageType(rawValue: typeEntry.key.text) else {
            if typeEntries.isEmpty {
                // A misspelt type was just reported as an unknown key; once is enough.
                if reportedUnknownKey { return nil }
                context.log.error(.stageType, "stage \(position + 1) has no stage type", at: mapping.location,
                                  hint: "add one of \(StageType.allCases.map(\.rawValue).joined(separator: ", "))")
            } else {
                context.log.error(
                    .stageType, "stage \(position + 1) has \(typeEntries.count) stage types (\(typeEntries.map(\.key.text).joined(separator: ", ")))",
                    at: typeEntries[1].key.location, length: typeEntries[1].key.text.count,
                    hint: "one stage per list item: start another item with '- \(typeEntries[1].key.text):'")
            }
            return nil
        }
        let stageSpec = ObjectSpec(name: "stage", doc: "", fields: [Fields.id.schema, Fields.inputs.schema])
        // Unknown keys were reported above; this reader sees only id and inputs.
        let stageReader = ObjectReader(.mapping(ConfigMapping(
            entries: mapping.entries.filter { stageKeyNames.contains($0.key.text) && StageType(rawValue: $0.key.text) == nil },
            location: mapping.location)), spec: stageSpec, context: &context)
        let id = stageReader.read(Fields.id, &context)
        let inputTexts = stageReader.read(Fields.inputs, &context)
        var inputs: [(StageInput, FileLocation)]?
        if let inputTexts, case .sequence(let sequence)? = stageReader.node(Fields.inputs.name) {
            inputs = zip(inputTexts, sequence.items).map { (StageInput(parsing: $0), $1.location) }
        }

        // `- batch:` with nothing after it: the stage with its defaults.
        var value = typeEntry.value
        if case .scalar(let scalar) = value, scalar.kind == .null {
            value = .mapping(ConfigMapping(entries: [], location: scalar.location))
        }
        let reader = ObjectReader(value, spec: type.spec, context: &context)
        let kind = reader.isMapping ? type.decode(reader, &context) : nil
        var shown = stageReader.shown
        if case .object(var members) = shown {
            members.append(ConfigValue.Member(key: type.rawValue, value: reader.shown, isDefault: false))
            shown = .object(members)
        }
        return StageDraft(
            id: id, idLocation: stageReader.node(Fields.id.name)?.location, inputs: inputs, type: type, kind: kind,
            location: mapping.location, shown: shown)
    }
}
