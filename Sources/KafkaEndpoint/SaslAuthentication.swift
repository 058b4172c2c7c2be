import KafkaProtocol
import NIOCore

/// One connection's SASL authentication, as Kafka's brokers run it: SaslHandshake (v1) names a
/// mechanism, then SaslAuthenticate requests carry its tokens; until they succeed the
/// connection may send ApiVersions and nothing else. A value that takes each request and says
/// what to answer; no I/O (the nonce of a SCRAM exchange comes from `makeNonce`).
struct SaslAuthentication: Sendable {
    enum Outcome: Sendable, Equatable {
        case respond(ByteBuffer)
        /// Answer, then close: the client reads why before the connection goes.
        case respondAndClose(ByteBuffer, reason: String)
        case close(reason: String)
    }

    private enum State: Sendable {
        case awaitingHandshake
        case awaitingPlainToken
        case scram(ScramServerExchange)
        case authenticated(user: String)
        case failed
    }

    private let directory: SASLUserDirectory
    private let makeNonce: @Sendable () -> String
    private var state = State.awaitingHandshake

    init(directory: SASLUserDirectory, makeNonce: @escaping @Sendable () -> String = { ScramServerExchange.randomNonce() }) {
        self.directory = directory
        self.makeNonce = makeNonce
    }

    /// The authenticated user; nil until then.
    var user: String? {
        if case .authenticated(let user) = state { user } else { nil }
    }

    /// What the authenticated user may read; nil until authenticated.
    var access: TopicAccess? { user.flatMap { directory.access[$0] } }

    mutating func handshake(_ request: SaslHandshakeRequest, header: RequestHeader) -> Outcome {
        guard case .awaitingHandshake = state else {
            state = .failed
            return .close(reason: "SaslHandshake after the connection started authenticating")
        }
        // v0 sends the tokens bare on the socket, outside Kafka's framing: clients since Kafka
        // 1.0 use v1, and ApiVersions advertises v1 only.
        guard header.apiVersion >= 1 else {
            state = .failed
            return .close(reason: "SaslHandshake v0 (bare SASL tokens) is not supported; the client must use v1")
        }
        let offered = directory.mechanisms.map(\.rawValue)
        guard let mechanism = SASLMechanism(rawValue: request.mechanism), directory.mechanisms.contains(mechanism) else {
            state = .failed
            let response = SaslHandshakeResponse(errorCode: .unsupportedSASLMechanism, mechanisms: offered)
            return .respondAndClose(
                KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID),
                reason: "SASL mechanism '\(request.mechanism)' is not enabled (enabled: \(offered.joined(separator: ", ")))")
        }
        if let algorithm = mechanism.scramAlgorithm {
            state = .scram(ScramServerExchange(algorithm: algorithm, credentials: directory.credentials[algorithm] ?? [:], serverNonce: makeNonce()))
        } else {
            state = .awaitingPlainToken
        }
        return .respond(KafkaResponseFrame.encode(SaslHandshakeResponse(mechanisms: offered), version: header.apiVersion, correlationID: header.correlationID))
    }

    mutating func authenticate(_ request: SaslAuthenticateRequest, header: RequestHeader) -> Outcome {
        let token = Array(request.authBytes.readableBytesView)
        switch state {
        case .awaitingPlainToken:
            switch verifyPlain(token) {
            case .success(let user):
                state = .authenticated(user: user)
                return respond(authBytes: [], header: header)
            case .failure(let reason):
                return refuse(mechanism: .plain, reason: reason, header: header)
            }
        case .scram(var exchange):
            let step = exchange.receive(token)
            switch step {
            case .challenge(let message):
                state = .scram(exchange)
                return respond(authBytes: message, header: header)
            case .authenticated(let user, let serverFinal):
                state = .authenticated(user: user)
                return respond(authBytes: serverFinal, header: header)
            case .failed(let reason):
                return refuse(mechanism: exchange.algorithm == .sha256 ? .scramSHA256 : .scramSHA512, reason: reason, header: header)
            }
        case .awaitingHandshake:
            state = .failed
            return .close(reason: "SaslAuthenticate before SaslHandshake")
        case .authenticated:
            // Re-authentication (KIP-368) is not offered: session lifetime 0.
            state = .failed
            return .close(reason: "SaslAuthenticate after the connection authenticated")
        case .failed:
            return .close(reason: "SaslAuthenticate after a failed authentication")
        }
    }

    private enum PlainResult { case success(String), failure(String) }

    /// `authzid NUL authcid NUL password` (RFC 4616); the authorization identity, when given,
    /// must be the user itself.
    private func verifyPlain(_ token: [UInt8]) -> PlainResult {
        let parts = token.split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3, let authzid = String(validating: parts[0], as: UTF8.self), let user = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self), !user.isEmpty
        else { return .failure("malformed PLAIN token") }
        guard authzid.isEmpty || authzid == user else { return .failure("authorization identity differs from the user name") }
        guard let credential = directory.credentials[.sha256]?[user] else { return .failure("unknown user '\(user)'") }
        guard credential.verifies(password: password) else { return .failure("wrong password for '\(user)'") }
        return .success(user)
    }

    private func respond(authBytes: [UInt8], header: RequestHeader) -> Outcome {
        let response = SaslAuthenticateResponse(authBytes: ByteBuffer(bytes: authBytes))
        return .respond(KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID))
    }

    /// The client learns that authentication failed, not why (no hint whether the user
    /// exists); the log line says why.
    private mutating func refuse(mechanism: SASLMechanism, reason: String, header: RequestHeader) -> Outcome {
        state = .failed
        let response = SaslAuthenticateResponse(
            errorCode: .saslAuthenticationFailed,
            errorMessage: "Authentication failed: invalid credentials with SASL mechanism \(mechanism.rawValue)", authBytes: ByteBuffer())
        return .respondAndClose(
            KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID),
            reason: "SASL \(mechanism.rawValue) authentication failed: \(reason)")
    }
}
