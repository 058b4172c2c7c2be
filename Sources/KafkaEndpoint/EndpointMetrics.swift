import CoreMetrics
import KafkaProtocol

/// What on-call sees of the Kafka endpoint, through the swift-metrics facade (Prometheus when
/// the process serves `/metrics`; nothing otherwise): connections open, accepted and refused,
/// requests by API, and what Fetch responses carried. Counted where it happens — on the event
/// loops and the reader threads — so every figure is thread-safe and costs an atomic add.
final class EndpointMetrics: Sendable {
    private let openConnections: Gauge
    private let acceptedConnections: Counter
    private let refusedConnections: Counter
    private let requestsByAPI: [Int16: Counter]
    private let otherRequests: Counter
    private let fetchResponses: Counter
    private let fetchBytes: Counter
    private let fetchRecords: Counter

    init(factory: any MetricsFactory) {
        openConnections = Gauge(label: "outflow_kafka_connections", factory: factory)
        acceptedConnections = Counter(label: "outflow_kafka_connections_accepted_total", factory: factory)
        refusedConnections = Counter(label: "outflow_kafka_connections_refused_total", factory: factory)
        var requests: [Int16: Counter] = [:]
        for api in RequestProcessor.servedAPIs + RequestProcessor.saslAPIs {
            requests[api.rawValue] = Counter(label: "outflow_kafka_requests_total", dimensions: [("api", "\(api)")], factory: factory)
        }
        requestsByAPI = requests
        otherRequests = Counter(label: "outflow_kafka_requests_total", dimensions: [("api", "unsupported")], factory: factory)
        fetchResponses = Counter(label: "outflow_kafka_fetch_responses_total", factory: factory)
        fetchBytes = Counter(label: "outflow_kafka_fetch_bytes_total", factory: factory)
        fetchRecords = Counter(label: "outflow_kafka_fetch_records_total", factory: factory)
        openConnections.record(0)
    }

    /// `nowOpen`: the connections open counting this one (the server's own count).
    func connectionOpened(nowOpen: Int) {
        acceptedConnections.increment()
        openConnections.record(nowOpen)
    }

    func connectionClosed(nowOpen: Int) { openConnections.record(nowOpen) }

    func connectionRefused() { refusedConnections.increment() }

    func request(apiKey: Int16) { (requestsByAPI[apiKey] ?? otherRequests).increment() }

    /// A Fetch response went out with `bytes` of stored batches holding `records` records.
    func fetched(bytes: Int, records: Int) {
        fetchResponses.increment()
        if bytes > 0 { fetchBytes.increment(by: Int64(bytes)) }
        if records > 0 { fetchRecords.increment(by: Int64(records)) }
    }
}
