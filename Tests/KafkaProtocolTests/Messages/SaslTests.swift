import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct SaslTests {
    @Test(arguments: versions(.saslHandshake))
    func handshakeRoundTrip(version: Int16) throws {
        try expectRequestRoundTrip(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), version: version)
        try expectResponseRoundTrip(
            SaslHandshakeResponse(errorCode: .unsupportedSASLMechanism, mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]), version: version
        )
    }

    @Test(arguments: versions(.saslAuthenticate))
    func authenticateRoundTrip(version: Int16) throws {
        let token = buffer(Array("\0user\0secret".utf8))
        try expectRequestRoundTrip(SaslAuthenticateRequest(authBytes: token), version: version)
        try expectResponseRoundTrip(
            SaslAuthenticateResponse(errorMessage: nil, authBytes: buffer([1, 2]), sessionLifetimeMs: version >= 1 ? 3_600_000 : 0), version: version
        )
        try expectResponseRoundTrip(
            SaslAuthenticateResponse(errorCode: .saslAuthenticationFailed, errorMessage: "bad password", authBytes: ByteBuffer()), version: version
        )
    }

    /// SaslHandshake has no flexible version: header v1 and classic strings at every version.
    @Test func handshakeIsNeverFlexible() {
        #expect(ApiKey.saslHandshake.supportedVersions.allSatisfy { !ApiKey.saslHandshake.isFlexible($0) })
        #expect(hex(SaslHandshakeRequest(mechanism: "PLAIN").encode(version: 1)) == "0005504c41494e")
    }
}
