import CoreMetrics
import Logging
import ServiceLifecycle
import Synchronization

/// Samples the log every `interval` into the metrics: each partition's end offset and last
/// stable offset, and each consumer group's lag (what `outflow status` shows). Reads without a
/// lock, on the sampler's thread, off the pipeline's.
public final class LogMonitor: Service, Sendable {
    let directory: String
    let interval: Duration
    let factory: any MetricsFactory
    let logger: Logger
    private let gauges = Mutex<[String: Gauge]>([:])
    let failures: Counter

    public init(directory: String, interval: Duration = .seconds(10), logger: Logger, factory: any MetricsFactory = MetricsSystem.factory) {
        self.directory = directory
        self.interval = interval
        self.logger = logger
        self.factory = factory
        failures = Counter(label: "outflow_errors_total", dimensions: [("kind", "log_monitor")], factory: factory)
    }

    public func run() async throws {
        try await PeriodicSampler(interval: interval) { [self] in sample() }.run()
    }

    /// One sample of the log as it is now.
    public func sample() {
        let status: PipelineStatus
        do { status = try PipelineStatus.read(logDirectory: directory) } catch {
            failures.increment()
            logger.debug("log monitor: reading the log failed", metadata: ["outflow.error": "\(error)"])
            return
        }
        for partition in status.partitions {
            let labels = [("topic", partition.topic), ("partition", String(partition.partition))]
            gauge("outflow_partition_end_offset", labels).record(Double(partition.endOffset))
            gauge("outflow_partition_last_stable_offset", labels).record(Double(partition.lastStableOffset))
        }
        for group in status.groups {
            gauge("outflow_consumer_group_lag", [("group", group.group), ("topic", group.topic), ("partition", String(group.partition))])
                .record(Double(group.lag))
        }
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> Gauge {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return gauges.withLock { gauges in
            if let gauge = gauges[key] { return gauge }
            let gauge = Gauge(label: label, dimensions: dimensions, factory: factory)
            gauges[key] = gauge
            return gauge
        }
    }
}
