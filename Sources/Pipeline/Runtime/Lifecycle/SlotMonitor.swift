import CoreMetrics
import Dispatch
import Foundation
import Logging
import PostgresSource
import ServiceLifecycle
import Synchronization

/// Watches the pipeline's replication slot from an ordinary connection, every `interval`: the
/// WAL it holds back on the server (what fills the server's disk when a pipeline stalls), the
/// server's `wal_status` and `safe_wal_size` for it (how far it is from being invalidated by
/// `max_slot_wal_keep_size`), and whether a walsender is using it; a warning (a log line and
/// `outflow_slot_wal_warning`) when it holds back more than `warnAbove` bytes, or the server
/// says it is about to invalidate it. A service of the process, before the pipeline in its group.
public final class SlotMonitor: Service, @unchecked Sendable {
    // @unchecked: `connection` (a libpq handle, not Sendable) is only used inside its mutex, on
    // the sampler's one thread.
    let connectionString: ConnectionString
    let slot: String
    let interval: Duration
    let warnAbove: Int64
    let logger: Logger
    /// The warning is logged when it starts and when it ends, not at every sample.
    private let warning = Mutex(false)
    let retainedWAL: Gauge
    let safeWALSize: Gauge
    let active: Gauge
    let lost: Gauge
    let walWarning: Gauge
    let failures: Counter

    public init(
        connectionString: ConnectionString, slot: String, interval: Duration = .seconds(10), warnAbove: Int64 = 1 << 30, logger: Logger,
        factory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.connectionString = connectionString
        self.slot = slot
        self.interval = interval
        self.warnAbove = warnAbove
        self.logger = logger
        retainedWAL = Gauge(label: "outflow_slot_retained_wal_bytes", factory: factory)
        safeWALSize = Gauge(label: "outflow_slot_safe_wal_size_bytes", factory: factory)
        active = Gauge(label: "outflow_slot_active", factory: factory)
        lost = Gauge(label: "outflow_slot_lost", factory: factory)
        walWarning = Gauge(label: "outflow_slot_wal_warning", factory: factory)
        failures = Counter(label: "outflow_errors_total", dimensions: [("kind", "slot_monitor")], factory: factory)
    }

    public func run() async throws {
        let sampler = PeriodicSampler(interval: interval) { [self] in try sampleOnce() }
        try await sampler.run()
    }

    /// libpq blocks: the samples run on the sampler's thread, each over the one connection
    /// (opened again after a failure).
    private let connection = Mutex<PostgresConnection?>(nil)
    private let failing = Mutex(false)

    private func sampleOnce() throws {
        do {
            try connection.withLock { connection throws(PostgresError) in
                if connection == nil { connection = try PostgresConnection(connectionString, applicationName: "outflow slot monitor") }
                if let connection { try sample(connection) }
            }
            if failing.withLock({ $0 }) { logger.info("slot monitor: reading the slot works again", metadata: ["outflow.slot": "\(slot)"]) }
            failing.withLock { $0 = false }
        } catch {
            failures.increment()
            connection.withLock { $0 = nil }
            if !failing.withLock({ $0 }) {
                logger.warning("slot monitor: reading the slot failed; retrying", metadata: ["outflow.slot": "\(slot)", "outflow.error": "\(error)"])
            }
            failing.withLock { $0 = true }
        }
    }

    /// One sample of the slot, as the server sees it now.
    func sample(_ connection: PostgresConnection) throws(PostgresError) {
        let result = try connection.execute("""
            SELECT pg_current_wal_lsn() - restart_lsn AS retained, safe_wal_size, wal_status, active
            FROM pg_replication_slots WHERE slot_name = \(try connection.quoteLiteral(slot))
            """)
        guard !result.rows.isEmpty else { return }  // not created yet
        let retained = result.value("retained").flatMap { Int64($0) }
        let status = result.value("wal_status")
        if let retained { retainedWAL.record(Double(retained)) }
        if let safe = result.value("safe_wal_size").flatMap(Double.init) { safeWALSize.record(safe) }
        active.record(result.value("active") == "t" ? 1 : 0)
        lost.record(status == "lost" ? 1 : 0)
        // "unreserved": past max_wal_size, kept only for slots; invalidated at the next checkpoint
        // if it stays past max_slot_wal_keep_size.
        let reason: String? = if status == "unreserved" || status == "lost" {
            "the server reports its WAL as \(status!): it is at or past being invalidated (max_slot_wal_keep_size)"
        } else if let retained, retained > warnAbove {
            "it holds back \(retained) bytes of WAL on the server (slot_wal_warning: \(warnAbove)); the pipeline is behind or stopped, and the server's disk fills until it catches up or the slot is dropped"
        } else {
            nil
        }
        walWarning.record(reason == nil ? 0 : 1)
        let (started, ended) = warning.withLock { warned in
            defer { warned = reason != nil }
            return (reason != nil && !warned, reason == nil && warned)
        }
        if started, let reason { logger.warning("slot \(slot): \(reason)", metadata: ["outflow.slot": "\(slot)"]) }
        if ended { logger.info("slot \(slot): back under slot_wal_warning", metadata: ["outflow.slot": "\(slot)"]) }
    }
}

/// Runs `sample` at once and then every `interval` on a thread of its own (the samples do
/// blocking I/O), until the group shuts the service down.
public struct PeriodicSampler: Service {
    let interval: Duration
    let sample: @Sendable () throws -> Void

    public init(interval: Duration, sample: @escaping @Sendable () throws -> Void) {
        self.interval = interval
        self.sample = sample
    }

    public func run() async throws {
        let stop = DispatchSemaphore(value: 0)
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        await withGracefulShutdownHandler {
            _ = await DedicatedThread.run(stackSize: 1 << 20) { [sample] in
                repeat { try? sample() } while stop.wait(timeout: .now() + seconds) == .timedOut
            }
        } onGracefulShutdown: {
            stop.signal()
        }
    }
}
