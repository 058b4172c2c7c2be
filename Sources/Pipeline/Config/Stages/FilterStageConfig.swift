/// `filter`: keeps the events for which the condition is true; `false` and `null` drop.
public struct FilterStageConfig: Sendable, Equatable {
    public var condition: EventExpression

    public init(condition: EventExpression) {
        self.condition = condition
    }
}

extension FilterStageConfig {
    enum Fields {
        static let condition = FieldSpec(
            "condition", .condition, .required,
            doc: "Keep events where this is true (null counts as false), as in payload.amount > 100.")
    }

    static let spec = ObjectSpec(
        name: "filter stage", doc: "Keeps the events for which the condition is true.",
        fields: [Fields.condition.schema], shorthand: "condition")

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> FilterStageConfig? {
        reader.read(Fields.condition, &context).map(FilterStageConfig.init)
    }
}
