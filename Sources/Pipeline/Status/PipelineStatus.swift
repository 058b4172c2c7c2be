import Foundation
import PGOutput
import PostgresSource
import SegmentLog

/// What `outflow status` shows: the log (the last durable source position and when it was
/// committed, each partition's offsets and whether a transaction is open in it, consumer groups
/// and their lag, the changelog's range) and, when the pipeline's source is given, its slot as
/// the server sees it. Read without any lock, so it works while the pipeline runs and when it
/// is stopped.
public struct PipelineStatus: Codable, Sendable, Equatable {
    public struct Partition: Codable, Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        public var logStartOffset: Int64
        public var endOffset: Int64
        public var lastStableOffset: Int64
        /// A transaction is open (or its marker not yet written): read_committed readers wait at
        /// the last stable offset.
        public var openTransaction: Bool
    }

    public struct GroupLag: Codable, Sendable, Equatable {
        public var group: String
        public var topic: String
        public var partition: Int32
        public var committedOffset: Int64
        /// Records visible to read_committed readers that the group has not committed yet.
        public var lag: Int64
    }

    public struct Slot: Codable, Sendable, Equatable {
        public var name: String
        public var exists: Bool
        public var active: Bool?
        public var confirmedFlushLSN: String?
        /// The server's current WAL position minus what the slot has confirmed.
        public var lagBytes: Int64?
        /// What the slot keeps on the server's disk: current WAL position minus its restart LSN.
        public var retainedWALBytes: Int64?
        public var walStatus: String?
        /// How much more WAL may be written before the slot is invalidated (`max_slot_wal_keep_size`).
        public var safeWALSizeBytes: Int64?
    }

    public var logDirectory: String
    /// The Commit end LSN the last log commit made durable (exactly-once), or the at-least-once
    /// position file's, whichever is further.
    public var durablePosition: String?
    /// When the last log commit was made (ms since the epoch).
    public var lastCommitTimestampMs: Int64?
    public var partitions: [Partition]
    public var groups: [GroupLag]
    /// The source positions the changelog can replay.
    public var changelogRange: [String]?
    public var slot: Slot?
    /// Each exact dedupe stage's window, as the last commit record names it.
    public var dedupe: [DedupeWindow]?
    /// Each outbox table with cleanup on, as its cleaner last wrote it: rows deleted, partitions
    /// dropped, the oldest row's age, the last run and its error.
    public var outboxCleanup: [OutboxCleanup]?

    public struct OutboxCleanup: Codable, Sendable, Equatable {
        public var table: String
        public var rowsDeleted: Int64
        public var partitionsDropped: Int64
        public var oldestRowAgeSeconds: Double?
        /// Seconds since the epoch (the server's clock).
        public var lastRunTime: Double?
        public var lastError: String?
        /// Visibility watermarks kept (docs/outbox-cleanup.md).
        public var watermarks: Int
    }

    /// What an exact dedupe stage holds: keys and the span of their times (source commit times),
    /// from the state files the last commit record names — so it is the committed state.
    public struct DedupeWindow: Codable, Sendable, Equatable {
        public var stage: String
        /// Keys held; buckets go whole, so up to an eighth of the window may be past it.
        public var keys: Int64
        /// Sealed bucket files on disk (the newest keys are in memory and a journal beside them).
        public var buckets: Int
        /// The oldest key's time, ms since the epoch; nil when only the journal holds keys.
        public var oldestKeyTimestampMs: Int64?
    }

    /// Reads the status of the log at `logDirectory`, and of `slot` over `connectionString` when given.
    public static func read(logDirectory: String, source: (connectionString: ConnectionString, slot: String)? = nil) throws(PipelineError) -> PipelineStatus {
        var status = PipelineStatus(logDirectory: logDirectory, partitions: [], groups: [])
        do {
            let reader = try LogReader(directory: logDirectory)
            var positions: [LSN] = []
            if let commit = try reader.lastCommit() {
                status.lastCommitTimestampMs = commit.timestamp
                if let checkpoint = try? Checkpoint(decoding: commit.metadata) {
                    positions.append(checkpoint.sourceEnd)
                    if !checkpoint.stageChanges.isEmpty, let history = try? reader.commitHistory() {
                        status.dedupe = Self.dedupeWindows(history.compactMap { try? Checkpoint(decoding: $0.metadata) })
                    }
                }
            }
            if let recorded = try? SourcePositionFile.read(directory: logDirectory) { positions.append(recorded) }
            status.durablePosition = positions.max()?.description
            var stable: [TopicPartition: Int64] = [:]
            for tp in try reader.partitions() where !tp.topic.hasPrefix("__") {
                let offsets = try reader.open(tp, isolation: .readCommitted).offsets()
                stable[tp] = offsets.lastStableOffset
                status.partitions.append(Partition(
                    topic: tp.topic, partition: tp.partition, logStartOffset: offsets.logStartOffset, endOffset: offsets.endOffset,
                    lastStableOffset: offsets.lastStableOffset, openTransaction: offsets.lastStableOffset < offsets.endOffset))
            }
            let groups = ConsumerGroups(logDirectory: logDirectory)
            for group in try groups.groups() {
                for (tp, committed) in try groups.committedOffsets(group: group).sorted(by: { $0.key < $1.key }) {
                    status.groups.append(GroupLag(
                        group: group, topic: tp.topic, partition: tp.partition, committedOffset: committed,
                        lag: max(0, (stable[tp] ?? committed) - committed)))
                }
            }
        } catch {
            throw PipelineError(.sink, "reading the log at \(logDirectory) failed: \(error)", underlying: error)
        }
        if let range = try ChangelogSource.retainedRange(in: logDirectory) {
            status.changelogRange = [range.lowerBound.description, range.upperBound.description]
        }
        let cleanups = OutboxCleanupState.readAll(stateDirectory: PipelineRunner.Settings.stateDirectory(forLog: logDirectory)).map {
            OutboxCleanup(
                table: $0.table, rowsDeleted: $0.rowsDeleted, partitionsDropped: $0.partitionsDropped, oldestRowAgeSeconds: $0.oldestRowAgeSeconds,
                lastRunTime: $0.lastRunTime, lastError: $0.lastError, watermarks: $0.watermarks.count)
        }
        status.outboxCleanup = cleanups.isEmpty ? nil : cleanups
        if let source { status.slot = try slot(source.slot, over: source.connectionString) }
        return status
    }

    static func slot(_ name: String, over connectionString: ConnectionString) throws(PipelineError) -> Slot {
        do {
            let connection = try PostgresConnection(connectionString, applicationName: "outflow status")
            let result = try connection.execute("""
                SELECT active, confirmed_flush_lsn::text AS confirmed, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint AS lag,
                       (pg_current_wal_lsn() - restart_lsn)::bigint AS retained, wal_status, safe_wal_size
                FROM pg_replication_slots WHERE slot_name = \(try connection.quoteLiteral(name))
                """)
            guard !result.rows.isEmpty else { return Slot(name: name, exists: false) }
            return Slot(
                name: name, exists: true, active: result.value("active") == "t", confirmedFlushLSN: result.value("confirmed"),
                lagBytes: result.value("lag").flatMap { Int64($0) }, retainedWALBytes: result.value("retained").flatMap { Int64($0) },
                walStatus: result.value("wal_status"), safeWALSizeBytes: result.value("safe_wal_size").flatMap { Int64($0) })
        } catch {
            throw PipelineError(.source, "reading slot \(name) failed: \(error)", underlying: error)
        }
    }

    /// The exact dedupe stages' committed state, summed up from the retained checkpoints (oldest
    /// first): the last reference names the sealed buckets and the synced journal, and carries
    /// the keys added since that journal sync inline. Nil when none.
    static func dedupeWindows(_ history: [Checkpoint]) -> [DedupeWindow]? {
        let stages = Set(history.flatMap(\.stageChanges.keys)).sorted()
        let windows = stages.compactMap { stage -> DedupeWindow? in
            let manifests = history.compactMap { checkpoint -> DedupeManifest? in
                guard let bytes = checkpoint.stageChanges[stage], DedupeManifest.isManifest(bytes) else { return nil }
                return try? DedupeManifest(decoding: bytes)
            }
            guard let last = manifests.last else { return nil }
            // The newest record carries every key since the sync; records of an earlier version
            // each their own commit's: the union counts both right.
            var inline = Set<DigestSlot>()
            for manifest in manifests.reversed() {
                guard manifest.continuesJournal(of: last) else { break }
                inline.formUnion(manifest.inline)
            }
            let sealed = last.buckets.reduce(Int64(0)) { $0 + Int64($1.count) }
            return DedupeWindow(
                stage: stage, keys: sealed + Int64(last.journal.syncedEntries) + Int64(inline.count), buckets: last.buckets.count,
                oldestKeyTimestampMs: last.buckets.filter { $0.count > 0 }.map(\.minTime).min())
        }
        return windows.isEmpty ? nil : windows
    }

    /// The status for a person.
    public var text: String {
        var lines: [String] = ["log \(logDirectory)"]
        let committedAt = lastCommitTimestampMs.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double($0) / 1000)) }
        lines.append("  durable source position: \(durablePosition ?? "none yet")\(committedAt.map { ", last commit \($0)" } ?? "")")
        if let changelogRange { lines.append("  changelog holds \(changelogRange[0]) to \(changelogRange[1])") }
        if partitions.isEmpty { lines.append("  no partitions yet") }
        for partition in partitions {
            lines.append("  \(partition.topic)-\(partition.partition): offsets \(partition.logStartOffset)–\(partition.endOffset), last stable \(partition.lastStableOffset)"
                + (partition.openTransaction ? " (transaction open)" : ""))
        }
        for group in groups {
            lines.append("  group \(group.group) \(group.topic)-\(group.partition): committed \(group.committedOffset), lag \(group.lag)")
        }
        for window in dedupe ?? [] {
            let oldest = window.oldestKeyTimestampMs.map { ", oldest key \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double($0) / 1000)))" } ?? ""
            lines.append("  dedupe \(window.stage): \(window.keys) keys, \(window.buckets) sealed buckets\(oldest)")
        }
        for cleanup in outboxCleanup ?? [] {
            let lastRun = cleanup.lastRunTime.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) } ?? "never"
            let oldest = cleanup.oldestRowAgeSeconds.map { "oldest row \(Int($0)) s old" } ?? "no rows left"
            lines.append("  outbox cleanup \(cleanup.table): \(cleanup.rowsDeleted) rows deleted, \(cleanup.partitionsDropped) partitions dropped, \(oldest), last run \(lastRun)"
                + (cleanup.lastError.map { "; last error: \($0)" } ?? ""))
        }
        if let slot {
            guard slot.exists else {
                lines.append("slot \(slot.name): does not exist")
                return lines.joined(separator: "\n")
            }
            lines.append("slot \(slot.name): \(slot.active == true ? "active" : "inactive"), confirmed \(slot.confirmedFlushLSN ?? "-")")
            lines.append("  lag \(slot.lagBytes.map(String.init) ?? "-") bytes, retained WAL \(slot.retainedWALBytes.map(String.init) ?? "-") bytes, wal_status \(slot.walStatus ?? "-")"
                + (slot.safeWALSizeBytes.map { ", safe WAL size left \($0) bytes" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}
