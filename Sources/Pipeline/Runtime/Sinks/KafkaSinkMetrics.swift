import CoreMetrics

/// The Kafka sink's own figures, through the swift-metrics facade (Prometheus in `outflow run`):
/// what the cluster acknowledged and what the sink had to do again. The sink calls these on the
/// pipeline's thread, per transaction or per batch of delivery reports — never per record.
public final class KafkaSinkMetrics {
    /// What a retry after a retriable error was retrying.
    public enum RetryKind: String, CaseIterable, Sendable {
        /// Registering the transactional.id (`init_transactions`).
        case register
        case commit
        case abort
        /// Waiting for delivery reports (plain guarantees).
        case delivery
    }

    let committed: Counter
    let aborted: Counter
    let delivered: Counter
    let deliveryFailures: Counter
    let retries: [RetryKind: Counter]
    let transactionDuration: Timer
    let brokersUp: Gauge

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        committed = Counter(label: "outflow_kafka_sink_transactions_total", dimensions: [("outcome", "committed")], factory: factory)
        aborted = Counter(label: "outflow_kafka_sink_transactions_total", dimensions: [("outcome", "aborted")], factory: factory)
        delivered = Counter(label: "outflow_kafka_sink_records_delivered_total", factory: factory)
        deliveryFailures = Counter(label: "outflow_kafka_sink_delivery_failures_total", factory: factory)
        var retries: [RetryKind: Counter] = [:]
        for kind in RetryKind.allCases {
            retries[kind] = Counter(label: "outflow_kafka_sink_retries_total", dimensions: [("kind", kind.rawValue)], factory: factory)
        }
        self.retries = retries
        transactionDuration = Timer(label: "outflow_kafka_sink_transaction_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        brokersUp = Gauge(label: "outflow_kafka_sink_brokers_up", factory: factory)
    }

    /// A Kafka transaction committed, `duration` after its first record was produced: the
    /// produce-to-acknowledgement time of its records.
    func transactionCommitted(after duration: Duration) {
        committed.increment()
        transactionDuration.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    func transactionAborted() { aborted.increment() }

    /// Delivery reports served since the last call: records the cluster acknowledged (the
    /// checkpoint records included) and records it refused.
    func deliveries(delivered count: Int, failed: Int) {
        if count > 0 { delivered.increment(by: Int64(count)) }
        if failed > 0 { deliveryFailures.increment(by: Int64(failed)) }
    }

    func retried(_ kind: RetryKind) { retries[kind]?.increment() }

    func brokers(up count: Int) { brokersUp.record(Double(count)) }
}
