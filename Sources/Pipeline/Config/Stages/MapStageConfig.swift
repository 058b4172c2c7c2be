/// `map`: reshapes events. Applied in the order rename, set, drop, so `set` can read a
/// renamed field and `drop` can remove a field `set` was computed from.
public struct MapStageConfig: Sendable, Equatable {
    public struct Assignment: Sendable, Equatable {
        public var target: FieldTarget
        public var value: EventExpression

        public init(target: FieldTarget, value: EventExpression) {
            self.target = target
            self.value = value
        }
    }

    public struct Rename: Sendable, Equatable {
        public var from: FieldTarget
        public var to: FieldTarget

        public init(from: FieldTarget, to: FieldTarget) {
            self.from = from
            self.to = to
        }
    }

    public var rename: [Rename]
    /// Expressions are evaluated against the event as it was before any assignment of this
    /// stage, so the order of `set` entries does not matter.
    public var set: [Assignment]
    public var drop: [FieldTarget]

    public init(rename: [Rename] = [], set: [Assignment] = [], drop: [FieldTarget] = []) {
        self.rename = rename
        self.set = set
        self.drop = drop
    }
}

extension MapStageConfig {
    enum Fields {
        static let rename = FieldSpec(
            "rename", .entries(keyedBy: "the field to rename", of: .fieldTarget, validateKey: { FieldTarget.parse($0).problem }),
            .optional, doc: "Fields or headers to rename: from: to, as in payload.amt: payload.amount.")
        static let set = FieldSpec(
            "set", .entries(keyedBy: "the field to set", of: .expression, validateKey: { FieldTarget.parse($0).problem }),
            .optional, doc: "Fields or headers to set: path: expression, as in headers.source: \"'outflow'\".")
        static let drop = FieldSpec(
            "drop", .list(of: .fieldTarget, minimum: 1), .optional, doc: "Fields or headers to remove.")
    }

    static let spec = ObjectSpec(
        name: "map stage", doc: "Renames, sets and drops fields and headers (in that order).",
        fields: [Fields.rename.schema, Fields.set.schema, Fields.drop.schema])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> MapStageConfig? {
        let anySet = [Fields.rename.name, Fields.set.name, Fields.drop.name].contains(where: reader.has)
        let rename = reader.read(Fields.rename, &context), set = reader.read(Fields.set, &context)
        let drop = reader.read(Fields.drop, &context)
        guard anySet else {
            context.log.error(.missingField, "map stage does nothing", at: reader.location, hint: "give it rename, set or drop")
            return nil
        }
        if reader.has(Fields.rename.name) && rename == nil || reader.has(Fields.set.name) && set == nil
            || reader.has(Fields.drop.name) && drop == nil {
            return nil
        }
        return MapStageConfig(
            rename: (rename ?? []).compactMap { entry in FieldTarget.parse(entry.key).target.map { Rename(from: $0, to: entry.value) } },
            set: (set ?? []).compactMap { entry in FieldTarget.parse(entry.key).target.map { Assignment(target: $0, value: entry.value) } },
            drop: drop ?? [])
    }
}
