/// `batch`: groups events into log batches; a batch closes at whichever limit comes first.
public struct BatchStageConfig: Sendable, Equatable {
    public var records: Int
    public var bytes: ByteSize
    public var linger: ConfigDuration

    public init(records: Int = 500, bytes: ByteSize = ByteSize("1MiB")!, linger: ConfigDuration = ConfigDuration("10ms")!) {
        self.records = records
        self.bytes = bytes
        self.linger = linger
    }
}

extension BatchStageConfig {
    enum Fields {
        static let records = FieldSpec(
            "records", .integer(1...1_000_000), .defaulted(500, shown: .number("500")), doc: "Most records in one batch.")
        static let bytes = FieldSpec(
            "bytes", .byteSize, .defaulted(ByteSize("1MiB")!, shown: .string("1MiB")), doc: "Most bytes in one batch, as in 1MiB.")
        static let linger = FieldSpec(
            "linger", .duration, .defaulted(ConfigDuration("10ms")!, shown: .string("10ms")),
            doc: "Longest wait for more events before an incomplete batch is written.")
    }

    static let spec = ObjectSpec(
        name: "batch stage", doc: "Groups events into log batches by count, size and time.",
        fields: [Fields.records.schema, Fields.bytes.schema, Fields.linger.schema])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> BatchStageConfig? {
        let records = reader.read(Fields.records, &context), bytes = reader.read(Fields.bytes, &context)
        let linger = reader.read(Fields.linger, &context)
        guard let records, let bytes, let linger else { return nil }
        if bytes.bytes < 1 {
            context.log.error(.invalidValue, "bytes must be at least 1", at: reader.keyLocation(Fields.bytes.name) ?? reader.location)
            return nil
        }
        return BatchStageConfig(records: records, bytes: bytes, linger: linger)
    }
}
