import CRdKafka

/// librdkafka properties, set one by one on a configuration object. A value is never put into
/// a message: a refused property is reported by name, so a password cannot leak through it.
public struct KafkaConfiguration: Sendable {
    public var properties: [(key: String, value: String)]

    public init(_ properties: [(key: String, value: String)] = []) { self.properties = properties }

    public subscript(key: String) -> String? {
        get { properties.last { $0.key == key }?.value }
        set {
            properties.removeAll { $0.key == key }
            if let newValue { properties.append((key, newValue)) }
        }
    }

    /// A new `rd_kafka_conf_t` holding every property; the caller owns it.
    func makeConf() throws(KafkaClientError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties {
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                let reason = result == RD_KAFKA_CONF_UNKNOWN ? "unknown property" : "invalid value"
                throw KafkaClientError(.configuration, "librdkafka refused the property \(key): \(reason)")
            }
        }
        return conf
    }
}
