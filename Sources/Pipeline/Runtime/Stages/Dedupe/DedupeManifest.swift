import BinaryIO

/// What an exact dedupe stage puts in each log commit record (exactly-once): which of its
/// files hold the committed state, and the keys this commit added when they were few. Files
/// are named by generation and never change once named (the journal only grows), so a commit
/// record names an exact state. See docs/dedupe-state.md.
struct DedupeManifest: Equatable {
    /// The sealed bucket files, oldest first.
    struct Bucket: Equatable {
        var generation: UInt64
        var capacity: UInt64
        var count: UInt64
        var baseTime: Int64
        var minTime: Int64
        var maxTime: Int64
        var slotsChecksum: UInt32
    }

    /// The journal of the newest bucket, as far as it was fsynced before this commit record.
    struct Journal: Equatable {
        var generation: UInt64
        var baseTime: Int64
        var syncedEntries: UInt64
        var syncedChecksum: UInt32
    }

    var secret: DigestSecret
    var nextGeneration: UInt64
    /// The time slice (window / 8) the newest bucket belongs to.
    var activeSlice: Int64
    var journal: Journal
    var buckets: [Bucket]
    /// Every key added past `journal.syncedEntries`, by this commit and the ones before it since
    /// that fsync (at most `ExactDedupeState.inlineLimit`): this reference alone restores them.
    var inline: [DigestSlot]

    /// Cannot begin a checkpoint of the earlier format, whose first 4 bytes counted its keys
    /// (this many would take 20 GB).
    static let magic: [UInt8] = Array("ODS".utf8) + [1]

    static func isManifest(_ bytes: [UInt8]) -> Bool { bytes.count >= 4 && Array(bytes[0..<4]) == magic }

    func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(96 + buckets.count * 52 + inline.count * 16)
        bytes.appendInteger(secret.k0)
        bytes.appendInteger(secret.k1)
        bytes.appendInteger(nextGeneration)
        bytes.appendInteger(activeSlice)
        bytes.appendInteger(journal.generation)
        bytes.appendInteger(journal.baseTime)
        bytes.appendInteger(journal.syncedEntries)
        bytes.appendInteger(journal.syncedChecksum)
        bytes.appendInteger(UInt32(buckets.count))
        for bucket in buckets {
            bytes.appendInteger(bucket.generation)
            bytes.appendInteger(bucket.capacity)
            bytes.appendInteger(bucket.count)
            bytes.appendInteger(bucket.baseTime)
            bytes.appendInteger(bucket.minTime)
            bytes.appendInteger(bucket.maxTime)
            bytes.appendInteger(bucket.slotsChecksum)
        }
        bytes.appendInteger(UInt32(inline.count))
        for slot in inline {
            bytes.appendInteger(slot.first)
            bytes.appendInteger(slot.second)
        }
        return bytes
    }

    init(
        secret: DigestSecret, nextGeneration: UInt64, activeSlice: Int64, journal: Journal, buckets: [Bucket], inline: [DigestSlot]
    ) {
        self.secret = secret
        self.nextGeneration = nextGeneration
        self.activeSlice = activeSlice
        self.journal = journal
        self.buckets = buckets
        self.inline = inline
    }

    init(decoding bytes: [UInt8]) throws(DedupeStateError) {
        guard Self.isManifest(bytes) else { throw DedupeStateError(.damaged, "not a dedupe state reference") }
        var reader = ByteReader<DedupeStateError>(bytes, from: 4)
        secret = DigestSecret(k0: try reader.readInteger("secret"), k1: try reader.readInteger("secret"))
        nextGeneration = try reader.readInteger("next generation")
        activeSlice = try reader.readInteger("active slice")
        journal = Journal(
            generation: try reader.readInteger("journal generation"), baseTime: try reader.readInteger("journal base time"),
            syncedEntries: try reader.readInteger("journal entries"), syncedChecksum: try reader.readInteger("journal checksum"))
        let bucketCountOffset = reader.offset
        let bucketCount = Int(try reader.readInteger("bucket count", as: UInt32.self))
        try reader.requireRoom(forItems: bucketCount, minimumBytes: 52, "bucket count", countOffset: bucketCountOffset)
        buckets = []
        for _ in 0..<bucketCount {
            buckets.append(Bucket(
                generation: try reader.readInteger("bucket generation"), capacity: try reader.readInteger("bucket capacity"),
                count: try reader.readInteger("bucket count"), baseTime: try reader.readInteger("bucket base time"),
                minTime: try reader.readInteger("bucket first time"), maxTime: try reader.readInteger("bucket last time"),
                slotsChecksum: try reader.readInteger("bucket checksum")))
        }
        let inlineCountOffset = reader.offset
        let inlineCount = Int(try reader.readInteger("key count", as: UInt32.self))
        try reader.requireRoom(forItems: inlineCount, minimumBytes: 16, "key count", countOffset: inlineCountOffset)
        inline = []
        inline.reserveCapacity(inlineCount)
        for _ in 0..<inlineCount {
            inline.append(DigestSlot(first: try reader.readInteger("key digest"), second: try reader.readInteger("key digest")))
        }
        try reader.expectEnd()
        try validate()
    }

    /// Times within ±2⁵³ ms (285,000 years) and sizes a state can have: bytes that decode but
    /// say otherwise are damage, refused here rather than trusted by the arithmetic that
    /// follows.
    private func validate() throws(DedupeStateError) {
        let timeLimit: Int64 = 1 << 53, sizeLimit: UInt64 = 1 << 36
        func time(_ value: Int64) -> Bool { value > -timeLimit && value < timeLimit }
        guard time(journal.baseTime), journal.syncedEntries <= sizeLimit else {
            throw DedupeStateError(.damaged, "a dedupe state reference names an impossible journal")
        }
        for bucket in buckets {
            guard bucket.capacity > 0, bucket.capacity <= sizeLimit, bucket.capacity & (bucket.capacity - 1) == 0,
                bucket.count <= bucket.capacity, time(bucket.baseTime), time(bucket.minTime), time(bucket.maxTime)
            else { throw DedupeStateError(.damaged, "a dedupe state reference names an impossible bucket") }
        }
    }

    /// The same files as `other`, so that their inline keys add up (see `ExactDedupeState.open`).
    func continuesJournal(of other: DedupeManifest) -> Bool {
        journal.generation == other.journal.generation && journal.syncedEntries == other.journal.syncedEntries && secret == other.secret
    }
}
