/// `order`: the order guarantee of the output.
public struct OrderStageConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Events with the same key keep their source order (they share a partition).
        case perKey = "per_key"
        /// All events keep their source order: needs a single partition.
        case total
    }

    public var mode: Mode

    public init(mode: Mode = .perKey) {
        self.mode = mode
    }
}

extension OrderStageConfig {
    enum Fields {
        static let mode = FieldSpec(
            "mode", .enumeration, .defaulted(Mode.perKey, shown: .string("per_key")),
            doc: "per_key: same key, same order as the source; total: one order for all events (needs sink.log.partitions: 1).")
    }

    static let spec = ObjectSpec(
        name: "order stage", doc: "Declares the order guarantee of the output.", fields: [Fields.mode.schema], shorthand: "mode")

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> OrderStageConfig? {
        guard let mode = reader.read(Fields.mode, &context) else { return nil }
        if mode == .total, let partitions = context.sinkPartitions, partitions > 1 {
            context.log.error(
                .conflictingOptions, "order: total needs a single partition, but sink.log.partitions is \(partitions)",
                at: reader.node(Fields.mode.name)?.location ?? reader.location,
                hint: "set sink.log.partitions: 1, or use order: per_key")
            return nil
        }
        return OrderStageConfig(mode: mode)
    }
}
