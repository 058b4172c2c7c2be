import NIOCore

/// SaslHandshake (17) request: the mechanism the client wants. Never flexible.
/// v0 sends the SASL tokens bare on the connection afterwards; v1 wraps them in
/// SaslAuthenticate requests.
public struct SaslHandshakeRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.saslHandshake
    public static let messageName: StaticString = "SaslHandshakeRequest"

    public var mechanism: String

    public init(mechanism: String) {
        self.mechanism = mechanism
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        Self(mechanism: try reader.readString("mechanism"))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(mechanism)
    }
}

/// SaslHandshake (17) response: the mechanisms the broker enables.
public struct SaslHandshakeResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.saslHandshake
    public static let messageName: StaticString = "SaslHandshakeResponse"

    public var errorCode: KafkaErrorCode
    public var mechanisms: [String]

    public init(errorCode: KafkaErrorCode = .none, mechanisms: [String]) {
        self.errorCode = errorCode
        self.mechanisms = mechanisms
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        try Self(errorCode: reader.readErrorCode(), mechanisms: reader.readStringArray("mechanisms"))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeErrorCode(errorCode)
        writer.writeStringArray(mechanisms)
    }
}

/// SaslAuthenticate (36) request: one SASL token from the client.
public struct SaslAuthenticateRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.saslAuthenticate
    public static let messageName: StaticString = "SaslAuthenticateRequest"

    public var authBytes: ByteBuffer

    public init(authBytes: ByteBuffer) {
        self.authBytes = authBytes
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        Self(authBytes: try reader.readBytes("auth_bytes"))
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeBytes(authBytes)
    }
}

/// SaslAuthenticate (36) response: the server's SASL token, or why authentication failed.
public struct SaslAuthenticateResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.saslAuthenticate
    public static let messageName: StaticString = "SaslAuthenticateResponse"

    public var errorCode: KafkaErrorCode
    public var errorMessage: String?
    public var authBytes: ByteBuffer
    /// v1+: when the client must re-authenticate (KIP-368); 0 for never.
    public var sessionLifetimeMs: Int64

    public init(errorCode: KafkaErrorCode = .none, errorMessage: String? = nil, authBytes: ByteBuffer, sessionLifetimeMs: Int64 = 0) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.authBytes = authBytes
        self.sessionLifetimeMs = sessionLifetimeMs
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        var response = try Self(errorCode: reader.readErrorCode(), errorMessage: reader.readNullableString("error_message"), authBytes: reader.readBytes("auth_bytes"))
        if version >= 1 { response.sessionLifetimeMs = try reader.readInteger("session_lifetime_ms") }
        return response
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeErrorCode(errorCode)
        writer.writeNullableString(errorMessage)
        writer.writeBytes(authBytes)
        if version >= 1 { writer.writeInteger(sessionLifetimeMs) }
    }
}
