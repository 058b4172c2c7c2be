import KafkaEndpoint
import Pipeline

/// The endpoint's TLS identity and users from `serve.tls` / `serve.sasl` (or the flags of
/// `outflow serve`): certificate and key read now, passwords handed over to be turned into
/// SCRAM credentials at start.
func endpointSecurity(tls: ServeTLSConfig?, sasl: ServeSASLConfig?) throws(ServeSecurityError) -> KafkaEndpointSecurity {
    var identity: TLSIdentity?
    if let tls {
        identity = TLSIdentity(
            certificateChainPEM: try ServeTLSConfig.pemBytes(path: tls.certificatePath, what: "certificate"),
            privateKeyPEM: try ServeTLSConfig.pemBytes(path: tls.privateKeyPath, what: "private key"))
    }
    guard let sasl else { return KafkaEndpointSecurity(tls: identity) }
    return KafkaEndpointSecurity(
        tls: identity,
        mechanisms: sasl.mechanisms.compactMap { SASLMechanism(rawValue: $0.rawValue) },
        users: sasl.users.map { SASLUser(name: $0.name, password: $0.password.value, topics: $0.topics.map(TopicGlob.init)) })
}

/// How the start line describes who may connect.
func securitySummary(_ security: KafkaEndpointSecurity) -> String {
    var parts = [security.tls == nil ? "plaintext" : "TLS"]
    if security.saslEnabled {
        parts.append("SASL \(security.mechanisms.map(\.rawValue).joined(separator: "/")), \(security.users.count) user\(security.users.count == 1 ? "" : "s")")
    } else {
        parts.append("no authentication")
    }
    return parts.joined(separator: ", ")
}
