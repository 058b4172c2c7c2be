/// A SASL mechanism the endpoint can offer.
public enum SASLMechanism: String, Sendable, CaseIterable, Hashable {
    /// The password in the clear: only over TLS, unless the operator allows otherwise.
    case plain = "PLAIN"
    case scramSHA256 = "SCRAM-SHA-256"
    case scramSHA512 = "SCRAM-SHA-512"

    var scramAlgorithm: ScramAlgorithm? {
        switch self {
        case .plain: nil
        case .scramSHA256: .sha256
        case .scramSHA512: .sha512
        }
    }
}

/// One user of the endpoint: who, with what password, reading which topics.
public struct SASLUser: Sendable, CustomStringConvertible, CustomReflectable {
    public var name: String
    /// Kept only until the endpoint derives its credentials at start.
    public var password: String
    /// Topics outside these answer TOPIC_AUTHORIZATION_FAILED and are left out of Metadata.
    public var topics: [TopicGlob]

    public init(name: String, password: String, topics: [TopicGlob]) {
        self.name = name
        self.password = password
        self.topics = topics
    }

    public var description: String { "SASLUser(\(name), topics: \(topics))" }
    public var customMirror: Mirror { Mirror(self, children: ["name": name, "topics": topics]) }
}

/// The server's certificate chain and private key, PEM.
public struct TLSIdentity: Sendable, CustomStringConvertible, CustomReflectable {
    public var certificateChainPEM: [UInt8]
    public var privateKeyPEM: [UInt8]

    public init(certificateChainPEM: [UInt8], privateKeyPEM: [UInt8]) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
    }

    public var description: String { "TLSIdentity(\(certificateChainPEM.count) bytes of certificates, a private key)" }
    public var customMirror: Mirror { Mirror(self, children: ["certificateChainBytes": certificateChainPEM.count]) }
}

/// Who may connect: TLS and SASL, each optional.
public struct KafkaEndpointSecurity: Sendable {
    public var tls: TLSIdentity?
    /// The mechanisms offered, in the order SaslHandshake lists them; empty: no SASL, every
    /// connection reads every topic.
    public var mechanisms: [SASLMechanism]
    public var users: [SASLUser]
    /// SCRAM iterations of the credentials derived at start (at least 4096).
    public var scramIterations: Int

    public init(tls: TLSIdentity? = nil, mechanisms: [SASLMechanism] = [], users: [SASLUser] = [], scramIterations: Int = ScramAlgorithm.minimumIterations) {
        self.tls = tls
        self.mechanisms = mechanisms
        self.users = users
        self.scramIterations = max(ScramAlgorithm.minimumIterations, scramIterations)
    }

    public static let none = KafkaEndpointSecurity()

    public var saslEnabled: Bool { !mechanisms.isEmpty }
}

/// The users as the server keeps them once started: per mechanism a SCRAM credential with a
/// random salt (PLAIN checks a password against the SHA-256 one), and each user's topics. No
/// password is kept.
final class SASLUserDirectory: Sendable {
    let mechanisms: [SASLMechanism]
    let credentials: [ScramAlgorithm: [String: ScramCredential]]
    let access: [String: TopicAccess]

    init(_ security: KafkaEndpointSecurity) {
        mechanisms = security.mechanisms
        var credentials: [ScramAlgorithm: [String: ScramCredential]] = [:]
        var algorithms = Set(security.mechanisms.compactMap(\.scramAlgorithm))
        if security.mechanisms.contains(.plain) { algorithms.insert(.sha256) }
        for algorithm in algorithms {
            credentials[algorithm] = Dictionary(
                security.users.map { ($0.name, ScramCredential.random(password: $0.password, iterations: security.scramIterations, algorithm: algorithm)) },
                uniquingKeysWith: { first, _ in first })
        }
        self.credentials = credentials
        access = Dictionary(security.users.map { ($0.name, TopicAccess(allowing: $0.topics)) }, uniquingKeysWith: { first, _ in first })
    }
}
