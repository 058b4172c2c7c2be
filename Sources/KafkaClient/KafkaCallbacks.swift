import CRdKafka
import Foundation
import Logging
import Synchronization

/// What librdkafka's callbacks report, kept where the Swift side can read it. librdkafka calls
/// C function pointers with the handle's opaque pointer, which points here (unretained: the
/// client that owns the handle keeps this alive until the handle is destroyed). Delivery
/// reports and errors arrive on the thread that polls; log lines on librdkafka's own threads,
/// so the state is behind a mutex.
final class KafkaCallbacks: Sendable {
    struct Deliveries: Sendable {
        var delivered = 0
        var failed = 0
        /// The first failure since the counts were last taken.
        var firstFailure: KafkaClientError?
    }

    let logger: Logger
    private let deliveries = Mutex(Deliveries())
    /// The latest error librdkafka reported through its error callback, and whether it said
    /// every broker was down.
    private let lastError = Mutex<(error: KafkaClientError?, allBrokersDown: Bool)>((nil, false))
    /// Brokers whose connection is up, from librdkafka's latest statistics (nil before any).
    private let brokersUpCount = Mutex<Int?>(nil)

    init(logger: Logger) { self.logger = logger }

    var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> KafkaCallbacks? {
        opaque.map { Unmanaged<KafkaCallbacks>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Registers the callbacks on `conf` (before the handle is made from it).
    func install(on conf: OpaquePointer, deliveryReports: Bool, statistics: Bool = false) {
        rd_kafka_conf_set_opaque(conf, opaque)
        if statistics {
            rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
                guard let json, let callbacks = KafkaCallbacks.from(opaque) else { return 0 }
                callbacks.statistics(Data(bytes: json, count: length))
                return 0  // librdkafka frees the text
            }
        }
        if deliveryReports {
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let callbacks = KafkaCallbacks.from(opaque) else { return }
                callbacks.delivered(message.pointee)
            }
        }
        rd_kafka_conf_set_error_cb(conf) { _, error, reason, opaque in
            guard let callbacks = KafkaCallbacks.from(opaque) else { return }
            callbacks.reported(error: error, reason: reason.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, line in
            guard let handle, let callbacks = KafkaCallbacks.from(rd_kafka_opaque(handle)) else { return }
            callbacks.log(level: level, facility: facility.map { String(cString: $0) } ?? "", line: line.map { String(cString: $0) } ?? "")
        }
    }

    private func delivered(_ message: rd_kafka_message_t) {
        deliveries.withLock { state in
            if message.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                state.delivered += 1
            } else {
                state.failed += 1
                if state.firstFailure == nil {
                    let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
                    state.firstFailure = KafkaClientError(
                        .delivery, "a record to \(topic) [\(message.partition)] was not delivered: \(String(cString: rd_kafka_err2str(message.err)))",
                        kafkaError: message.err.rawValue)
                }
            }
        }
    }

    private func reported(error: Int32, reason: String) {
        let allDown = rd_kafka_resp_err_t(error) == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
        let failure = KafkaClientError(.retriable, reason, kafkaError: error)
        let changed = lastError.withLock { state in
            defer { state = (failure, allDown) }
            return state.error?.kafkaError != error || state.allBrokersDown != allDown
        }
        // librdkafka repeats connection errors while a broker stays down: log a change.
        if changed {
            logger.warning("kafka: \(reason)", metadata: ["outflow.kafka.error": "\(KafkaClientError.name(of: error))"])
        }
    }

    private func log(level: Int32, facility: String, line: String) {
        let metadata: Logger.Metadata = ["outflow.kafka.facility": "\(facility)"]
        switch level {
        case ...3: logger.error("librdkafka: \(line)", metadata: metadata)
        case 4: logger.warning("librdkafka: \(line)", metadata: metadata)
        case 5, 6: logger.info("librdkafka: \(line)", metadata: metadata)
        default: logger.debug("librdkafka: \(line)", metadata: metadata)
        }
    }

    /// librdkafka's statistics (JSON): the brokers it has a connection up to, counted once per
    /// broker id — the configured bootstrap entries and the logical coordinator handles are
    /// the same brokers again.
    private func statistics(_ json: Data) {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any], let brokers = root["brokers"] as? [String: Any] else { return }
        var up = Set<Int>()
        for case let broker as [String: Any] in brokers.values {
            guard let id = broker["nodeid"] as? Int, id >= 0, broker["state"] as? String == "UP", broker["source"] as? String != "logical" else { continue }
            up.insert(id)
        }
        brokersUpCount.withLock { $0 = up.count }
    }

    /// Brokers with a connection up, as librdkafka's latest statistics counted them.
    var brokersUp: Int? { brokersUpCount.withLock { $0 } }

    /// The delivery counts since the last call, which starts them again.
    func takeDeliveries() -> Deliveries {
        deliveries.withLock { state in
            defer { state = Deliveries() }
            return state
        }
    }

    /// The last error librdkafka reported, and whether it said every broker was down.
    var latestError: (error: KafkaClientError?, allBrokersDown: Bool) { lastError.withLock { $0 } }

    func clearLatestError() { lastError.withLock { $0 = (nil, false) } }
}
