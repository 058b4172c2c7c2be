import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named places where the process can be made to die, for the crash tests.
///
/// `OUTFLOW_CRASH_AT=name[:occurrence]` (read once, on the first `hit`) arms one point: its
/// `occurrence`-th hit (1 when omitted) writes a line to standard error and calls `abort()` —
/// no unwinding, no `defer`, no flush, like `kill -9` at exactly that step. Unset, a hit costs
/// one load and one comparison.
///
/// The facility lives in a module of its own because the points are in modules that do not
/// depend on each other (SegmentLog, PostgresSource, Pipeline): one parser, one list of names.
public enum CrashPoint {
    /// Every point, in protocol order; `OUTFLOW_CRASH_AT` must name one of them.
    public static let names: [String] = [
        // SegmentLog: transactional commit (LogWriter.append / commit).
        "log.append.after-data",  // a data batch was appended (not synced)
        "log.commit.after-data-fsync",  // every dirty partition fsynced; no commit record yet
        "log.commit.after-record-append",  // commit record appended, not synced
        "log.commit.after-record-fsync",  // the commit point: record durable, no markers yet
        "log.commit.after-markers",  // COMMIT markers written
        // SegmentLog: plain (non-transactional) writes.
        "log.sync.after-fsync",  // LogWriter.sync made every partition durable
        // SegmentLog: the clean shutdown (LogWriter.closeCleanly).
        "log.close.after-sync",  // every partition and index durable, no clean shutdown marker yet
        "log.close.after-marker",  // the marker durable, the directory not yet released
        // SegmentLog: the swap of a recompressed sealed segment (SegmentRecompression).
        "log.recompress.before-swap",  // new .log and .index durable under temporary names, nothing renamed
        "log.recompress.after-log-swap",  // the new .log renamed over the old (not yet synced), old .index in place
        "log.recompress.after-index-swap",  // both swapped and synced, no marker yet
        // Pipeline: the runner, every mode.
        "runner.before-commit",  // a group is complete, nothing committed/synced yet
        "runner.after-commit",  // the group is durable (EO: commit record; ALO: fsync + position file), not yet marked durable
        "runner.after-mark-durable",  // the source was told (status not necessarily sent)
        "runner.position.after-temp-write",  // position file: temporary written and fsynced, not renamed
        "runner.amo.after-ack",  // at_most_once: acknowledged (status sent), nothing written
        "runner.amo.after-write",  // at_most_once: group appended, not synced
        // Pipeline: the Postgres sink's target transaction (exactly-once).
        "sink.postgres.before-commit",  // rows, processed ids and checkpoint written in the open transaction; no COMMIT yet
        "sink.postgres.after-commit",  // the target committed; the runner has not acknowledged
        // PostgresSource: the acknowledgement path.
        "source.status.before-send",
        "source.status.after-send",
        // KafkaEndpoint: a consumer group's OffsetCommit (the group's offsets file replaced atomically).
        "endpoint.offsets.before-write",  // the commit accepted, nothing written
        "endpoint.offsets.after-temp-write",  // the new offsets in the temporary file, fsynced, not renamed
        "endpoint.offsets.after-replace",  // the new offsets durable, no response sent
        // Pipeline: outbox cleanup (a service beside the runner).
        "cleanup.batch.before-commit",  // a batch's DELETE ran, its transaction not committed
        "cleanup.batch.after-commit",  // a batch committed, the cleaner's state not yet written
        "cleanup.state.after-temp-write",  // the cleaner's state: temporary written and fsynced, not renamed
    ]

    struct Armed {
        var name: String
        var occurrence: Int
    }

    private static let armed: Armed? = parse(getenv("OUTFLOW_CRASH_AT").map { String(cString: $0) })
    private static let hits = Atomic<Int>(0)
    private static let beforeAbort = Mutex<(@Sendable () -> Void)?>(nil)

    /// Runs `action` when an armed point fires, just before the process aborts: the file
    /// layer's power-loss simulation throws away there what was never made durable.
    public static func onCrash(_ action: @escaping @Sendable () -> Void) {
        beforeAbort.withLock { $0 = action }
    }

    /// Parses `name[:occurrence]`; nil when unset or empty.
    static func parse(_ text: String?) -> Armed? {
        guard let text, !text.isEmpty else { return nil }
        if let colon = text.lastIndex(of: ":"), let count = Int(text[text.index(after: colon)...]), count > 0 {
            return Armed(name: String(text[..<colon]), occurrence: count)
        }
        return Armed(name: text, occurrence: 1)
    }

    /// The armed point's description, or an error when `OUTFLOW_CRASH_AT` is set to something
    /// that is not a known point (a typo would otherwise never fire). Nil when unset.
    public static func validate() throws(CrashPointError) -> String? {
        guard let raw = getenv("OUTFLOW_CRASH_AT").map({ String(cString: $0) }), !raw.isEmpty else { return nil }
        guard let armed, names.contains(armed.name) else {
            throw CrashPointError(description: "OUTFLOW_CRASH_AT=\(raw): not a crash point (known: \(names.joined(separator: ", ")))")
        }
        return "\(armed.name) (occurrence \(armed.occurrence))"
    }

    /// Dies here if this is the armed point's chosen occurrence.
    @inline(__always)
    public static func hit(_ name: StaticString) {
        guard let armed else { return }
        hitSlow(name, armed)
    }

    @inline(never)
    private static func hitSlow(_ name: StaticString, _ armed: Armed) {
        guard armed.name == name.description else { return }
        let count = hits.add(1, ordering: .relaxed).newValue
        guard count == armed.occurrence else { return }
        beforeAbort.withLock { $0 }?()
        let line = "outflow: crash point \(armed.name) (occurrence \(count)): aborting\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        var none = rlimit(rlim_cur: 0, rlim_max: 0)  // no core file for a deliberate abort
        #if os(Linux)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
        #else
        _ = setrlimit(RLIMIT_CORE, &none)
        #endif
        abort()
    }
}

public struct CrashPointError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
