import CRdKafka

/// A failure of the Kafka client, classified the way librdkafka's transactional API asks the
/// caller to react: retry the same call, abort the transaction and start it again, or stop.
public struct KafkaClientError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A property librdkafka refused, or a client it could not create.
        public static let configuration = Code("kafka_configuration")
        /// Calling again may succeed (a timeout, a coordinator moving, brokers down).
        public static let retriable = Code("kafka_retriable")
        /// The open transaction cannot commit: abort it; a new one may succeed.
        public static let abortable = Code("kafka_abortable")
        /// Another producer with the same transactional.id took over (a newer epoch).
        public static let fenced = Code("kafka_fenced")
        /// The cluster refused the credentials or the permission.
        public static let authentication = Code("kafka_authentication")
        /// Any other failure the producer cannot recover from.
        public static let fatal = Code("kafka_fatal")
        /// A record was not delivered (outside a transaction).
        public static let delivery = Code("kafka_delivery")
        /// A read (metadata, the checkpoint topic) did not complete.
        public static let read = Code("kafka_read")
        /// The cluster does not answer this request (an old broker, librdkafka's mock).
        public static let unsupported = Code("kafka_unsupported")
    }

    public var code: Code
    public var message: String
    /// librdkafka's error code (`rd_kafka_resp_err_t`), when there is one.
    public var kafkaError: Int32?

    public init(_ code: Code, _ message: String, kafkaError: Int32? = nil) {
        self.code = code
        self.message = message
        self.kafkaError = kafkaError
    }

    /// The same call may succeed later.
    public var isRetriable: Bool { code == .retriable }
    /// Aborting the open transaction and starting again may succeed.
    public var requiresAbort: Bool { code == .abortable }
    /// The client cannot go on: stop.
    public var isFatal: Bool { code == .fenced || code == .authentication || code == .fatal || code == .configuration }

    public var description: String { "\(message) (\(code))" }

    /// librdkafka's name of an error code (e.g. `PRODUCER_FENCED`).
    public static func name(of error: Int32) -> String {
        String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(error)))
    }

    /// Classifies an error object of the transactional API (and destroys it).
    static func consuming(_ error: OpaquePointer, doing what: String) -> KafkaClientError {
        defer { rd_kafka_error_destroy(error) }
        let code = rd_kafka_error_code(error).rawValue
        let text = String(cString: rd_kafka_error_string(error))
        let kind: Code
        if rd_kafka_error_is_fatal(error) != 0 {
            kind = fatalKind(code)
        } else if rd_kafka_error_txn_requires_abort(error) != 0 {
            kind = .abortable
        } else if rd_kafka_error_is_retriable(error) != 0 {
            kind = .retriable
        } else {
            kind = fatalKind(code)
        }
        return KafkaClientError(kind, "\(what): \(text) [\(name(of: code))]", kafkaError: code)
    }

    /// Fenced and refused credentials get codes of their own: they need different action.
    static func fatalKind(_ code: Int32) -> Code {
        switch rd_kafka_resp_err_t(code) {
        case RD_KAFKA_RESP_ERR_PRODUCER_FENCED, RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH, RD_KAFKA_RESP_ERR__FENCED:
            return .fenced
        case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, RD_KAFKA_RESP_ERR__AUTHENTICATION,
            RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
            RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
            return .authentication
        default:
            return .fatal
        }
    }
}

/// The text librdkafka wrote into a buffer we lent it, up to its NUL.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
