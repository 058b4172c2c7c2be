/// `key`: sets the record key, which picks the partition and so the order per key.
public struct KeyStageConfig: Sendable, Equatable {
    public var expression: EventExpression

    public init(expression: EventExpression) {
        self.expression = expression
    }
}

extension KeyStageConfig {
    enum Fields {
        static let expression = FieldSpec(
            "expression", .expression, .required,
            doc: "The new record key, as in payload.customer_id; a null key spreads events over partitions.")
    }

    static let spec = ObjectSpec(
        name: "key stage", doc: "Sets the record key (and so the partition) from an expression.",
        fields: [Fields.expression.schema], shorthand: "expression")

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> KeyStageConfig? {
        reader.read(Fields.expression, &context).map(KeyStageConfig.init)
    }
}
