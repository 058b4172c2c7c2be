/// `dedupe`: drops an event whose key was already seen within the window. Its state commits
/// atomically with the output (a cache beside the log would break exactly-once).
public struct DedupeStageConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Remembers a 96-bit digest of every key: no false positives in practice (the
        /// collision odds are in docs/dedupe-state.md); the newest keys in memory, older ones on
        /// disk beside the log.
        case exact
        /// A Bloom filter: fixed memory, but a new event may be taken for a duplicate with
        /// probability false_positive_rate.
        case bloom
    }

    /// What an exact dedupe does when its state reaches a bound (`max_entries`, `max_disk`).
    public enum OnFull: String, Sendable, CaseIterable {
        /// Forget the oldest keys (a bucket of them at a time) before their window ends, with a
        /// warning and `outflow_dedupe_forgotten_keys_total`: a duplicate of one may pass.
        case forgetOldest = "forget_oldest"
        /// Stop the pipeline with an error: nothing forgotten, nothing delivered until the bound
        /// is raised.
        case refuse
    }

    public var key: EventExpression
    public var window: ConfigDuration
    /// exact: the most keys remembered (nil: no limit but `maxDisk`); bloom: the keys each
    /// filter is sized for.
    public var maxEntries: Int?
    public var mode: Mode
    /// Set for `bloom` only.
    public var falsePositiveRate: Double?
    /// exact: memory for the newest keys' table; older keys are on disk.
    public var memory: ByteSize
    /// exact: the most disk the state may take.
    public var maxDisk: ByteSize
    public var onFull: OnFull

    public init(
        key: EventExpression, window: ConfigDuration = ConfigDuration("24h")!, maxEntries: Int? = nil, mode: Mode = .exact,
        falsePositiveRate: Double? = nil, memory: ByteSize = Self.defaultMemory, maxDisk: ByteSize = Self.defaultMaxDisk,
        onFull: OnFull = .forgetOldest
    ) {
        self.key = key
        self.window = window
        self.maxEntries = maxEntries
        self.mode = mode
        self.falsePositiveRate = falsePositiveRate
        self.memory = memory
        self.maxDisk = maxDisk
        self.onFull = onFull
    }

    public static let defaultMemory = ByteSize("64MiB")!
    public static let defaultMaxDisk = ByteSize("16GiB")!
}

extension DedupeStageConfig {
    static let defaultFalsePositiveRate = 0.001
    static let defaultBloomEntries = 1_000_000

    enum Fields {
        static let key = FieldSpec("key", .expression, .required, doc: "What identifies an event, as in id or headers.event_id.")
        static let window = FieldSpec(
            "window", .duration, .defaulted(ConfigDuration("24h")!, shown: .string("24h")),
            doc: "How long a key is remembered, as in 24h.")
        static let maxEntries = FieldSpec(
            "max_entries", .integer(1...Int.max), .optional,
            doc: "exact: most keys remembered, then on_full applies (default: no limit but max_disk); bloom: keys each filter is sized for (default 1000000).")
        static let mode = FieldSpec(
            "mode", .enumeration, .defaulted(Mode.exact, shown: .string("exact")),
            doc: "exact (remember every key, newest in memory, older on disk) or bloom (fixed memory, rare false positives).")
        static let falsePositiveRate = FieldSpec(
            "false_positive_rate", .number(above: 0, below: 1), .optional,
            doc: "bloom only: the chance that a new event is dropped as a duplicate. Default 0.001.")
        static let memory = FieldSpec(
            "memory", .byteSize, .optional,
            doc: "exact only (default 64MiB): memory for the newest keys (16 bytes a key); older keys are kept on disk beside the log, behind a filter of one byte a key.")
        static let maxDisk = FieldSpec(
            "max_disk", .byteSize, .optional,
            doc: "exact only (default 16GiB): most disk the state may take (about 22 bytes a key), then on_full applies.")
        static let onFull = FieldSpec(
            "on_full", ValueSpec<OnFull>.enumeration, .optional,
            doc: "exact only (default forget_oldest), at max_entries or max_disk: forget_oldest (warn, count, forget the oldest keys early) or refuse (stop the pipeline).")
    }

    static let spec = ObjectSpec(
        name: "dedupe stage", doc: "Drops events whose key was seen within the window.",
        fields: [
            Fields.key.schema, Fields.window.schema, Fields.maxEntries.schema, Fields.mode.schema, Fields.falsePositiveRate.schema,
            Fields.memory.schema, Fields.maxDisk.schema, Fields.onFull.schema,
        ])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> DedupeStageConfig? {
        let key = reader.read(Fields.key, &context), window = reader.read(Fields.window, &context)
        var maxEntries = reader.read(Fields.maxEntries, &context), mode = reader.read(Fields.mode, &context)
        var rate = reader.read(Fields.falsePositiveRate, &context)
        var memory = reader.read(Fields.memory, &context), maxDisk = reader.read(Fields.maxDisk, &context)
        var onFull = reader.read(Fields.onFull, &context)
        if mode == .exact, rate != nil, let location = reader.keyLocation(Fields.falsePositiveRate.name) {
            context.log.error(
                .conflictingOptions, "false_positive_rate applies to mode: bloom only", at: location,
                length: Fields.falsePositiveRate.name.count, hint: "remove it, or set mode: bloom")
            return nil
        }
        if mode == .bloom {
            for field in [Fields.memory.name, Fields.maxDisk.name, Fields.onFull.name] {
                guard let location = reader.keyLocation(field) else { continue }
                context.log.error(
                    .conflictingOptions, "\(field) applies to mode: exact only", at: location, length: field.count,
                    hint: "remove it, or set mode: exact")
                mode = nil
            }
        }
        if mode == .bloom, rate == nil, !reader.has(Fields.falsePositiveRate.name) {
            rate = defaultFalsePositiveRate
            reader.show(Fields.falsePositiveRate.name, .number("\(defaultFalsePositiveRate)"))
        }
        if mode == .bloom, maxEntries == nil, !reader.has(Fields.maxEntries.name) {
            maxEntries = defaultBloomEntries
            reader.show(Fields.maxEntries.name, .number("\(defaultBloomEntries)"))
        }
        if mode == .exact {
            // Shown only where they apply, so that a resolved file loads again.
            if memory == nil, !reader.has(Fields.memory.name) {
                memory = defaultMemory
                reader.show(Fields.memory.name, .string(defaultMemory.text))
            }
            if maxDisk == nil, !reader.has(Fields.maxDisk.name) {
                maxDisk = defaultMaxDisk
                reader.show(Fields.maxDisk.name, .string(defaultMaxDisk.text))
            }
            if onFull == nil, !reader.has(Fields.onFull.name) {
                onFull = .forgetOldest
                reader.show(Fields.onFull.name, .string(OnFull.forgetOldest.rawValue))
            }
        }
        guard let key, let window, let mode else { return nil }
        if mode == .bloom {
            memory = memory ?? defaultMemory
            maxDisk = maxDisk ?? defaultMaxDisk
            onFull = onFull ?? .forgetOldest
        }
        guard let memory, let maxDisk, let onFull else { return nil }
        if window.milliseconds == 0 {
            context.log.error(.invalidValue, "the window must be longer than 0", at: reader.keyLocation(Fields.window.name) ?? reader.location)
            return nil
        }
        if mode == .exact, memory.bytes < 1 << 20 {
            context.log.error(.invalidValue, "memory must be at least 1MiB", at: reader.keyLocation(Fields.memory.name) ?? reader.location)
            return nil
        }
        return DedupeStageConfig(
            key: key, window: window, maxEntries: maxEntries, mode: mode, falsePositiveRate: rate, memory: memory, maxDisk: maxDisk, onFull: onFull)
    }
}
