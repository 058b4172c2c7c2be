/// `dedupe`: drops an event whose key was already seen within the window. Its state commits
/// atomically with the output (a cache beside the log would break exactly-once).
public struct DedupeStageConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Remembers every key: no false positives, memory grows with max_entries.
        case exact
        /// A Bloom filter: fixed memory, but a new event may be taken for a duplicate with
        /// probability false_positive_rate.
        case bloom
    }

    public var key: EventExpression
    public var window: ConfigDuration
    public var maxEntries: Int
    public var mode: Mode
    /// Set for `bloom` only.
    public var falsePositiveRate: Double?

    public init(
        key: EventExpression, window: ConfigDuration = ConfigDuration("24h")!, maxEntries: Int = 1_000_000, mode: Mode = .exact,
        falsePositiveRate: Double? = nil
    ) {
        self.key = key
        self.window = window
        self.maxEntries = maxEntries
        self.mode = mode
        self.falsePositiveRate = falsePositiveRate
    }
}

extension DedupeStageConfig {
    static let defaultFalsePositiveRate = 0.001

    enum Fields {
        static let key = FieldSpec("key", .expression, .required, doc: "What identifies an event, as in id or headers.event_id.")
        static let window = FieldSpec(
            "window", .duration, .defaulted(ConfigDuration("24h")!, shown: .string("24h")),
            doc: "How long a key is remembered, as in 24h.")
        static let maxEntries = FieldSpec(
            "max_entries", .integer(1...Int.max), .defaulted(1_000_000, shown: .number("1000000")),
            doc: "Most keys remembered; the oldest are forgotten first.")
        static let mode = FieldSpec(
            "mode", .enumeration, .defaulted(Mode.exact, shown: .string("exact")),
            doc: "exact (remember every key) or bloom (fixed memory, rare false positives).")
        static let falsePositiveRate = FieldSpec(
            "false_positive_rate", .number(above: 0, below: 1), .optional,
            doc: "bloom only: the chance that a new event is dropped as a duplicate. Default 0.001.")
    }

    static let spec = ObjectSpec(
        name: "dedupe stage", doc: "Drops events whose key was seen within the window.",
        fields: [Fields.key.schema, Fields.window.schema, Fields.maxEntries.schema, Fields.mode.schema, Fields.falsePositiveRate.schema])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> DedupeStageConfig? {
        let key = reader.read(Fields.key, &context), window = reader.read(Fields.window, &context)
        let maxEntries = reader.read(Fields.maxEntries, &context), mode = reader.read(Fields.mode, &context)
        var rate = reader.read(Fields.falsePositiveRate, &context)
        if mode == .exact, rate != nil, let location = reader.keyLocation(Fields.falsePositiveRate.name) {
            context.log.error(
                .conflictingOptions, "false_positive_rate applies to mode: bloom only", at: location,
                length: Fields.falsePositiveRate.name.count, hint: "remove it, or set mode: bloom")
            return nil
        }
        if mode == .bloom, rate == nil, !reader.has(Fields.falsePositiveRate.name) {
            rate = defaultFalsePositiveRate
            reader.show(Fields.falsePositiveRate.name, .number("\(defaultFalsePositiveRate)"))
        }
        guard let key, let window, let maxEntries, let mode else { return nil }
        if window.milliseconds == 0 {
            context.log.error(.invalidValue, "the window must be longer than 0", at: reader.keyLocation(Fields.window.name) ?? reader.location)
            return nil
        }
        return DedupeStageConfig(key: key, window: window, maxEntries: maxEntries, mode: mode, falsePositiveRate: rate)
    }
}
