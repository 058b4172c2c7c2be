import BinaryIO
import Logging

/// The committed and pending keys of an exact dedupe stage, in bounded memory whatever the
/// window: the newest keys in a `DigestTable` (mirrored append-only in a `DedupeJournal`),
/// older ones in sealed bucket files behind a filter each, a bucket per time slice (an eighth
/// of the window) or per table-full, dropped whole once its newest key has left the window.
/// Its commit-record part is a `DedupeManifest`. The design, its bounds and its crash cases:
/// docs/dedupe-state.md.
package final class ExactDedupeState {
    package struct Settings {
        var windowMilliseconds: Int64
        var memoryBytes: Int
        var maxDiskBytes: Int64
        var maxEntries: Int?
        var onFull: DedupeStageConfig.OnFull

        package init(
            windowMilliseconds: Int64, memoryBytes: Int = Int(DedupeStageConfig.defaultMemory.bytes),
            maxDiskBytes: Int64 = DedupeStageConfig.defaultMaxDisk.bytes, maxEntries: Int? = nil, onFull: DedupeStageConfig.OnFull = .forgetOldest
        ) {
            self.windowMilliseconds = windowMilliseconds
            self.memoryBytes = memoryBytes
            self.maxDiskBytes = maxDiskBytes
            self.maxEntries = maxEntries
            self.onFull = onFull
        }
    }

    /// Buckets per window: a key outlives its window by at most this fraction of it on disk.
    static let slicesPerWindow: Int64 = 8
    /// Keys one commit record carries: every key added since the journal was last fsynced, so
    /// that the newest record alone restores the state (a compacted Kafka topic keeps only that
    /// one). Past this many the commit fsyncs the journal instead.
    static let inlineLimit = 256
    static let initialCapacity = 1024

    let settings: Settings
    let directory: String
    let logger: Logger
    let sliceMilliseconds: Int64
    /// The newest bucket's table grows to this capacity (a power of two within `memoryBytes`).
    let maximumCapacity: Int
    /// The newest bucket is sealed at this many keys.
    let maximumActiveKeys: Int

    private var secret: DigestSecret
    private var nextGeneration: UInt64 = 1
    private var activeSlice: Int64 = .min
    private var table: DigestTable
    private var journal: DedupeJournal
    /// Oldest first.
    private var buckets: [SealedBucket] = []
    /// The state is restored from commit records on start (exactly-once); otherwise its files
    /// last as long as the process.
    let durable: Bool
    /// Files the state no longer uses (names): deleted once no commit record names them.
    private var retired: [String] = []
    /// The files the last commit record written names (durable only): they stay until a later
    /// record names others, whatever happens in this process meanwhile.
    private var recordedFiles: Set<String> = []
    /// The keys added since the journal was last fsynced, across commits, while they are few
    /// (`inlineLimit`); past that, the next commit syncs the journal.
    private var inline: [DigestSlot] = []
    private var inlineOverflow = false
    /// Keys were added on start (from old commit records or their inline keys): sync them.
    private var mustSync = false
    private var directoryNeedsSync = false
    /// The state as the last commit left it: what an abort goes back to.
    private var committed: (manifest: DedupeManifest, journalEntries: Int)?
    private var proposed: (manifest: DedupeManifest, journalEntries: Int)?
    /// A write after the commit point failed; the next call reports it.
    private var deferredFailure: DedupeStateError?
    /// Keys forgotten before their window ended (a bound was reached).
    package private(set) var forgottenKeys = 0

    private init(settings: Settings, directory: String, durable: Bool, logger: Logger, secret: DigestSecret) throws(DedupeStateError) {
        self.settings = settings
        self.durable = durable
        self.directory = directory
        self.logger = logger
        self.secret = secret
        sliceMilliseconds = max(1, min(settings.windowMilliseconds / Self.slicesPerWindow, Int64(Int32.max) / 2))
        var capacity = Self.initialCapacity
        while capacity * 2 * DigestSlot.size <= settings.memoryBytes { capacity *= 2 }
        maximumCapacity = capacity
        maximumActiveKeys = min(capacity / 4 * 3, settings.maxEntries.map { max(1, $0 / 4) } ?? .max)
        table = DigestTable(capacity: Self.initialCapacity, baseTime: 0)
        // Generation 0 is never named by a commit record: a placeholder until the first key.
        journal = try DedupeJournal.create(generation: 0, baseTime: 0, directory: directory)
    }

    // MARK: - Opening

    /// Opens the state in `directory` as the commit records left it: `committed` are this
    /// stage's parts of the retained commit records, oldest first (empty: nothing committed yet;
    /// nil: the state is not restored, outside exactly-once). Files no commit record names are
    /// deleted.
    package static func open(
        settings: Settings, directory: String, committed: [[UInt8]]?, logger: Logger, secret: DigestSecret? = nil
    ) throws(DedupeStateError) -> ExactDedupeState {
        let changes = committed ?? []
        // Outside exactly-once the state goes in a directory of its own, emptied on start: the
        // files the last exactly-once commit record names stay as they are, for when the log is
        // run in exactly-once again.
        let directory = committed == nil ? directory + "/volatile" : directory
        if !POSIXFile<DedupeStateError>.exists(directory) {
            // The new directories' entries must be durable before any file in them is named by a
            // commit record: the state's directory in its parent, that one in the log directory.
            try POSIXFile<DedupeStateError>.createDirectory(directory, intermediate: true)
            let parent = POSIXFile<DedupeStateError>.directory(of: directory)
            try POSIXFile<DedupeStateError>.syncDirectory(parent)
            try POSIXFile<DedupeStateError>.syncDirectory(POSIXFile<DedupeStateError>.directory(of: parent))
        }
        var manifests: [(index: Int, manifest: DedupeManifest)] = []
        for (index, bytes) in changes.enumerated() where DedupeManifest.isManifest(bytes) {
            manifests.append((index, try DedupeManifest(decoding: bytes)))
        }
        let last = manifests.last
        let state = try ExactDedupeState(
            settings: settings, directory: directory, durable: committed != nil, logger: logger, secret: last?.manifest.secret ?? secret ?? .random())
        if let last {
            state.recordedFiles = Self.fileNames(last.manifest)
            // The keys added since the journal was last synced travel inline: all of them in the
            // newest record; in records of an earlier version, each commit's own in its record.
            // The union, oldest first, serves both (a key repeated in several is added once).
            var continuing: [[DigestSlot]] = []
            for (_, manifest) in manifests.reversed() {
                guard manifest.continuesJournal(of: last.manifest) else { break }
                continuing.append(manifest.inline)
            }
            var trailing: [DigestSlot] = []
            var added = Set<DigestSlot>()
            for slot in continuing.reversed().joined() where added.insert(slot).inserted { trailing.append(slot) }
            try state.load(last.manifest, journalEntries: Int(last.manifest.journal.syncedEntries), replaying: trailing)
        } else {
            try state.deleteUnreferencedFiles(keeping: state.currentFileNames)
        }
        // Commit records of the earlier format (each commit's keys in full) after the last reference.
        for bytes in changes[((last?.index ?? -1) + 1)...] where !DedupeManifest.isManifest(bytes) {
            try state.restoreEarlierFormat(bytes)
        }
        try state.journal.flush()
        state.committed = (state.currentManifest(inline: []), state.journal.entries)
        state.inline = []
        state.inlineOverflow = false
        return state
    }

    /// Makes the files `manifest` names the state, `journalEntries` of the journal read back,
    /// then `replaying` added as committed keys (they will be synced by the next commit).
    private func load(_ manifest: DedupeManifest, journalEntries: Int, replaying: [DigestSlot]) throws(DedupeStateError) {
        var kept: [UInt64: SealedBucket] = [:]
        for bucket in buckets { kept[bucket.reference.generation] = bucket }
        var loaded: [SealedBucket] = []
        for reference in manifest.buckets {
            if let open = kept[reference.generation], open.reference == reference {
                loaded.append(open)
            } else {
                loaded.append(try SealedBucket.open(reference, directory: directory))
            }
        }
        // The journal must hold what the reference says before a table is sized for it.
        let journalPath = directory + "/" + DedupeJournal.fileName(manifest.journal.generation)
        let journalSize = try OpenFile<DedupeStateError>.readOnly(journalPath).size()
        guard journalSize >= Int64(DedupeJournal.headerSize) + Int64(journalEntries) * Int64(DigestSlot.size) else {
            throw DedupeStateError(.damaged, "\(journalPath) ends before the \(journalEntries) keys its commit record names (torn or cut)")
        }
        var capacity = Self.initialCapacity
        while (journalEntries + replaying.count) * 4 > capacity * 3 { capacity *= 2 }
        let newTable = DigestTable(capacity: capacity, baseTime: manifest.journal.baseTime)
        let newJournal = try DedupeJournal.open(manifest.journal, entries: journalEntries, directory: directory, into: newTable)
        secret = manifest.secret
        nextGeneration = manifest.nextGeneration
        activeSlice = manifest.activeSlice
        buckets = loaded
        table = newTable
        journal = newJournal
        for slot in replaying {
            if !table.hasRoom { table.grow() }
            table.set(slot.digest, offset: slot.offset)
            try journal.append(slot)
        }
        if !replaying.isEmpty { mustSync = true }
        try deleteUnreferencedFiles(keeping: currentFileNames.union(recordedFiles))
    }

    static func fileNames(_ manifest: DedupeManifest) -> Set<String> {
        Set(manifest.buckets.map { SealedBucket.fileName($0.generation) } + [DedupeJournal.fileName(manifest.journal.generation)])
    }

    private var currentFileNames: Set<String> {
        Set(buckets.map { SealedBucket.fileName($0.reference.generation) } + [DedupeJournal.fileName(journal.generation)])
    }

    private func restoreEarlierFormat(_ bytes: [UInt8]) throws(DedupeStateError) {
        var reader = ByteReader<DedupeStateError>(bytes)
        let count = try reader.readInteger("key count", as: UInt32.self)
        for _ in 0..<count {
            let time = try reader.readInteger("time", as: Int64.self)
            let key = try reader.readLengthPrefixed("key", lengthAs: UInt32.self)
            _ = try check(KeyDigest(of: key, secret: secret), at: time)
        }
        try reader.expectEnd()
        mustSync = true
    }

    private func deleteUnreferencedFiles(keeping names: Set<String>) throws(DedupeStateError) {
        for name in try POSIXFile<DedupeStateError>.listDirectory(directory) where !names.contains(name) {
            guard name.hasSuffix(".ddb") || name.hasSuffix(".ddj") else { continue }
            try POSIXFile<DedupeStateError>.remove(directory + "/" + name)
        }
    }

    // MARK: - Keys

    func digest(of key: some Collection<UInt8>) -> KeyDigest { KeyDigest(of: key, secret: secret) }
    /// The same, not generic: for callers in other modules, where a generic would not be specialised.
    package func digest(of key: [UInt8]) -> KeyDigest { KeyDigest(of: key, secret: secret) }

    /// Keys in the state (those of the open transaction too), expired ones not yet dropped included.
    package var count: Int { buckets.reduce(table.count) { $0 + $1.count } }
    package var memoryBytes: Int { buckets.reduce(table.byteCount) { $0 + $1.memoryBytes } }
    package var diskBytes: Int64 { buckets.reduce(journal.fileBytes) { $0 + $1.fileBytes } }
    package var bucketCount: Int { buckets.count + 1 }

    /// True when `digest` was seen within the window before `time` (ms); otherwise it is added,
    /// pending until the next commit.
    package func check(_ digest: KeyDigest, at time: Int64) throws(DedupeStateError) -> Bool {
        if let deferredFailure { throw deferredFailure }
        let horizon = time - settings.windowMilliseconds
        while let oldest = buckets.first, oldest.reference.maxTime < horizon {
            buckets.removeFirst()
            retired.append(SealedBucket.fileName(oldest.reference.generation))
        }
        if let seen = table.time(of: digest), seen >= horizon { return true }
        for bucket in buckets.reversed() where bucket.reference.maxTime >= horizon {
            if let seen = try bucket.time(of: digest), seen >= horizon { return true }
        }
        try add(digest, at: time)
        return false
    }

    private func add(_ digest: KeyDigest, at time: Int64) throws(DedupeStateError) {
        if table.count == 0 || time.floorDivided(by: sliceMilliseconds) > activeSlice || table.offset(of: time) == nil
            || table.count >= maximumActiveKeys
        {
            try startBucket(at: time)
        } else if !table.hasRoom {
            table.grow()
        }
        if let maxEntries = settings.maxEntries, count >= maxEntries {
            try makeRoom("max_entries (\(maxEntries))") { $0.count >= maxEntries }
        }
        let slot = DigestSlot(digest, offset: table.offset(of: time)!)
        table.set(digest, offset: slot.offset)
        try journal.append(slot)
        if !inlineOverflow {
            if inline.count < Self.inlineLimit {
                inline.append(slot)
            } else {
                inlineOverflow = true
                inline = []
            }
        }
    }

    /// Seals the newest bucket (when it holds keys) and starts another whose times count from `time`.
    private func startBucket(at time: Int64) throws(DedupeStateError) {
        // A table whose keys have all left the window is dropped rather than sealed.
        if table.count > 0, table.maxTime >= time - settings.windowMilliseconds {
            let size = Int64(SealedBucket.headerSize) + Int64(table.byteCount)
            if diskBytes + size > settings.maxDiskBytes {
                try makeRoom("max_disk (\(settings.maxDiskBytes) bytes)") { $0.diskBytes + size > $0.settings.maxDiskBytes }
            }
            buckets.append(try SealedBucket.seal(table, generation: nextGeneration, directory: directory))
            nextGeneration += 1
            // Its keys are durable in the bucket file now.
            inline = []
            inlineOverflow = false
        }
        retired.append(DedupeJournal.fileName(journal.generation))
        journal = try DedupeJournal.create(generation: nextGeneration, baseTime: time, directory: directory)
        nextGeneration += 1
        table = DigestTable(capacity: Self.initialCapacity, baseTime: time)
        activeSlice = time.floorDivided(by: sliceMilliseconds)
        directoryNeedsSync = true
    }

    /// A bound is reached: forget the oldest buckets while `over` holds (`forget_oldest`), or refuse.
    private func makeRoom(_ bound: String, while over: (ExactDedupeState) -> Bool) throws(DedupeStateError) {
        guard settings.onFull == .forgetOldest else {
            throw DedupeStateError(.full, "the dedupe state reached \(bound) with on_full: refuse; raise the bound or shorten the window")
        }
        while over(self), let oldest = buckets.first {
            buckets.removeFirst()
            retired.append(SealedBucket.fileName(oldest.reference.generation))
            forgottenKeys += oldest.count
            logger.warning(
                "dedupe state full: forgetting its oldest keys before their window ends; a duplicate of one of them would pass",
                metadata: [
                    "outflow.dedupe.bound": "\(bound)", "outflow.dedupe.forgotten_keys": "\(oldest.count)",
                    "outflow.dedupe.newest_forgotten_ms": "\(oldest.reference.maxTime)",
                ])
        }
    }

    // MARK: - Commit and abort

    private func currentManifest(inline: [DigestSlot]) -> DedupeManifest {
        DedupeManifest(
            secret: secret, nextGeneration: nextGeneration, activeSlice: activeSlice, journal: journal.reference,
            buckets: buckets.map(\.reference), inline: inline)
    }

    /// What the next commit record carries: the files of the state, made durable first, and
    /// this commit's keys when they are few. Nil while the state has never held a key.
    package func pendingChanges() throws(DedupeStateError) -> [UInt8]? {
        if let deferredFailure { throw deferredFailure }
        if journal.generation == 0 && table.count == 0 && buckets.isEmpty { return nil }
        if inlineOverflow || mustSync || !journal.headerDurable {
            try journal.sync()
            inline = []
            inlineOverflow = false
            mustSync = false
        } else {
            // Written (not synced): an abort in this process reads them back.
            try journal.flush()
        }
        if directoryNeedsSync {
            try POSIXFile<DedupeStateError>.syncDirectory(directory)
            directoryNeedsSync = false
        }
        let manifest = currentManifest(inline: inline)
        proposed = (manifest, journal.entries)
        return manifest.encoded()
    }

    /// The group committed: the proposed state is this process's committed one (what an abort
    /// goes back to). Retired files go once no written commit record names them: `recorded`
    /// says the record carrying the proposed reference was written.
    package func didCommit(recorded: Bool) {
        do throws(DedupeStateError) {
            if let proposed {
                committed = proposed
            } else {
                // No reference was asked for (outside exactly-once): keep this process's view.
                try journal.flush()
                committed = (currentManifest(inline: []), journal.entries)
                inline = []
                inlineOverflow = false
            }
            if recorded, let proposed { recordedFiles = Self.fileNames(proposed.manifest) }
            let kept = durable ? retired.filter { recordedFiles.contains($0) } : []
            for name in retired where !kept.contains(name) { try POSIXFile<DedupeStateError>.remove(directory + "/" + name) }
            retired = kept
        } catch {
            deferredFailure = error
        }
        // The keys since the last journal fsync stay: the next record carries them again.
        proposed = nil
    }

    /// The log transaction aborted: back to the state of the last commit.
    package func didAbort() throws(DedupeStateError) {
        proposed = nil
        retired = []
        // Back to the keys since the last fsync that the last commit's reference carried.
        inline = committed?.manifest.inline ?? []
        inlineOverflow = false
        deferredFailure = nil
        if let committed {
            try load(committed.manifest, journalEntries: committed.journalEntries, replaying: [])
        } else {
            buckets = []
            table = DigestTable(capacity: Self.initialCapacity, baseTime: 0)
            journal = try DedupeJournal.create(generation: 0, baseTime: 0, directory: directory)
            try deleteUnreferencedFiles(keeping: currentFileNames.union(recordedFiles))
        }
    }
}
