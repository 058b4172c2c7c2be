import Foundation
import KafkaProtocol
import NIOCore
import Testing
@testable import KafkaEndpoint

/// SCRAM against RFC 7677's example and a SHA-512 exchange computed by Python's hashlib, the
/// per-connection SASL state, the topic globs; then the endpoint over a socket with users.
@Suite struct SaslTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: SCRAM

    /// RFC 7677 §3: user "user", password "pencil", the client and server nonces and the salt
    /// of the example; every message must be the RFC's, byte for byte.
    @Test func rfc7677ExampleExchange() throws {
        let salt = try #require(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ=="))
        let credential = ScramCredential(password: "pencil", salt: Array(salt), iterations: 4096, algorithm: .sha256)
        var exchange = ScramServerExchange(algorithm: .sha256, credentials: ["user": credential], serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
        let first = exchange.receive(Self.bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        #expect(first == .challenge(Self.bytes("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")))
        let final = exchange.receive(Self.bytes(
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
        #expect(final == .authenticated(user: "user", serverFinal: Self.bytes("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")))
        // Nothing after the end.
        #expect(exchange.receive(Self.bytes("c=biws")) == .failed(reason: "a message after the exchange ended"))
    }

    /// The RFC's exchange with one thing changed each time: each is refused.
    @Test(arguments: [
        ("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
         "wrong password for 'user'"),
        ("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "nonce differs from the one agreed"),
        ("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
         "channel binding differs from the first message's header"),
        ("n,,n=nobody,r=rOprNGfwEbeRWgbNEkqO", "", "unknown user 'nobody'"),
        ("p=tls-unique,,n=user,r=rOprNGfwEbeRWgbNEkqO", "", "channel binding 'p=tls-unique' is not supported"),
        ("n,,n=user,r=rOprNGfwEbeRWgbNEkqO,tokenauth=true", "", "delegation tokens are not supported"),
        ("n,,m=ext,n=user,r=abc", "", "mandatory extension m= is not supported"),
        ("n,,n=us=er,r=abc", "", "malformed user name"),
    ])
    func alteredExchangesAreRefused(clientFirst: String, clientFinal: String, reason: String) throws {
        let salt = try #require(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ=="))
        let credential = ScramCredential(password: "pencil", salt: Array(salt), iterations: 4096, algorithm: .sha256)
        var exchange = ScramServerExchange(algorithm: .sha256, credentials: ["user": credential], serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
        let first = exchange.receive(Self.bytes(clientFirst))
        if clientFinal.isEmpty {
            #expect(first == .failed(reason: reason))
        } else {
            guard case .challenge = first else { Issue.record("the first message was refused: \(first)"); return }
            #expect(exchange.receive(Self.bytes(clientFinal)) == .failed(reason: reason))
        }
    }

    /// SCRAM-SHA-512 has no RFC example: Python's hashlib (pbkdf2_hmac, hmac, sha512) computes
    /// the client's proof and the server's signature for fixed nonces and salt, and our server
    /// must accept the one and send the other. A user name with `,` and `=` checks saslname
    /// escaping too.
    @Test func scramSHA512MatchesPythonHashlib() throws {
        let salt = Array("outflow-salt-512".utf8)
        let password = "correct horse battery staple"
        let clientNonce = "fyko+d2lbbFgONRv9qkxdawL", serverNonce = "3rfcNHYJY1ZVvWVs7j"
        let clientFirstBare = "n=a=2Cb=3Dc,r=\(clientNonce)"
        let serverFirst = "r=\(clientNonce)\(serverNonce),s=\(Data(salt).base64EncodedString()),i=4096"
        let withoutProof = "c=biws,r=\(clientNonce)\(serverNonce)"
        let script = """
            import base64, hashlib, hmac, sys
            password, salt, auth = sys.argv[1].encode(), base64.b64decode(sys.argv[2]), sys.argv[3].encode()
            salted = hashlib.pbkdf2_hmac("sha512", password, salt, 4096)
            client_key = hmac.new(salted, b"Client Key", hashlib.sha512).digest()
            stored_key = hashlib.sha512(client_key).digest()
            signature = hmac.new(stored_key, auth, hashlib.sha512).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            server_key = hmac.new(salted, b"Server Key", hashlib.sha512).digest()
            print(base64.b64encode(proof).decode())
            print(base64.b64encode(hmac.new(server_key, auth, hashlib.sha512).digest()).decode())
            """
        let output = try Self.python(script, [password, Data(salt).base64EncodedString(), "\(clientFirstBare),\(serverFirst),\(withoutProof)"])
        let lines = output.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "python printed: \(output)")

        let credential = ScramCredential(password: password, salt: salt, iterations: 4096, algorithm: .sha512)
        var exchange = ScramServerExchange(algorithm: .sha512, credentials: ["a,b=c": credential], serverNonce: serverNonce)
        #expect(exchange.receive(Self.bytes("n,,\(clientFirstBare)")) == .challenge(Self.bytes(serverFirst)))
        #expect(exchange.receive(Self.bytes("\(withoutProof),p=\(lines[0])")) == .authenticated(user: "a,b=c", serverFinal: Self.bytes("v=\(lines[1])")))
    }

    /// The venv's Python when `make test` runs, else the one on PATH.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        let configured = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"] ?? ""
        process.executableURL = URL(fileURLWithPath: configured.isEmpty ? "/usr/bin/env" : configured)
        process.arguments = (configured.isEmpty ? ["python3"] : []) + ["-c", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("python exited \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    @Test func credentialsAtStartHaveRandomSaltsAndVerifyOnlyTheirPassword() {
        let one = ScramCredential.random(password: "pw-one", algorithm: .sha512)
        let two = ScramCredential.random(password: "pw-one", algorithm: .sha512)
        #expect(one.salt != two.salt && one.storedKey != two.storedKey)
        #expect(one.iterations == 4096)
        #expect(one.verifies(password: "pw-one") && !one.verifies(password: "pw-two"))
        #expect(!"\(one)".contains("pw-one"))
    }

    // MARK: Topic globs

    @Test func topicGlobs() {
        let cases: [(String, String, Bool)] = [
            ("orders.*", "orders.created", true), ("orders.*", "orders.", true), ("orders.*", "orders", false), ("orders.*", "xorders.a", false),
            ("*", "anything", true), ("a?c", "abc", true), ("a?c", "ac", false), ("*.dead-letter", "shop.dead-letter", true),
            ("*a*b", "xxaxxb", true), ("*a*b", "xxaxxbx", false), ("audit", "audit", true), ("audit", "audits", false),
        ]
        for (pattern, topic, expected) in cases {
            #expect(TopicGlob(pattern).matches(topic) == expected, "\(pattern) ~ \(topic)")
        }
        let access = TopicAccess(allowing: [TopicGlob("orders.*"), TopicGlob("audit")])
        #expect(access.allows("orders.x") && access.allows("audit") && !access.allows("customers"))
        #expect(TopicAccess.everything.allows("customers"))
    }

    // MARK: One connection's authentication

    static let users = SASLUserDirectory(KafkaEndpointSecurity(
        mechanisms: [.scramSHA512, .plain],
        users: [SASLUser(name: "alice", password: "alice-pw", topics: [TopicGlob("orders")])]))

    static func header(_ api: ApiKey, _ version: Int16) -> RequestHeader {
        RequestHeader(apiKey: api, apiVersion: version, correlationID: 9, clientID: "t")
    }

    static func plainToken(_ user: String, _ password: String) -> SaslAuthenticateRequest {
        SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: [0] + Array(user.utf8) + [0] + Array(password.utf8)))
    }

    @Test func plainSucceedsWithTheRightPasswordAndGrantsTheUsersTopics() throws {
        var session = SaslAuthentication(directory: Self.users)
        guard case .respond(let frame) = session.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), header: Self.header(.saslHandshake, 1)) else {
            Issue.record("handshake refused")
            return
        }
        let (_, handshake) = try KafkaResponseFrame.decode(SaslHandshakeResponse.self, frame: Self.frameBody(frame), version: 1)
        #expect(handshake.errorCode == .none && handshake.mechanisms == ["SCRAM-SHA-512", "PLAIN"])
        #expect(session.access == nil)
        guard case .respond = session.authenticate(Self.plainToken("alice", "alice-pw"), header: Self.header(.saslAuthenticate, 2)) else {
            Issue.record("authentication refused")
            return
        }
        #expect(session.user == "alice")
        #expect(session.access?.allows("orders") == true && session.access?.allows("customers") == false)
    }

    @Test func aWrongPasswordIsAnsweredThenTheConnectionCloses() throws {
        var session = SaslAuthentication(directory: Self.users)
        _ = session.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), header: Self.header(.saslHandshake, 1))
        guard case .respondAndClose(let frame, let reason) = session.authenticate(Self.plainToken("alice", "nope"), header: Self.header(.saslAuthenticate, 2))
        else {
            Issue.record("a wrong password was not refused")
            return
        }
        #expect(reason == "SASL PLAIN authentication failed: wrong password for 'alice'")
        let (_, response) = try KafkaResponseFrame.decode(SaslAuthenticateResponse.self, frame: Self.frameBody(frame), version: 2)
        #expect(response.errorCode == .saslAuthenticationFailed)
        // The client is not told whether the user exists.
        #expect(response.errorMessage == "Authentication failed: invalid credentials with SASL mechanism PLAIN")
        #expect(session.access == nil)
        #expect(session.authenticate(Self.plainToken("alice", "alice-pw"), header: Self.header(.saslAuthenticate, 2))
            == .close(reason: "SaslAuthenticate after a failed authentication"))
    }

    @Test func outOfOrderAndUnknownMechanismsClose() throws {
        var early = SaslAuthentication(directory: Self.users)
        #expect(early.authenticate(Self.plainToken("alice", "alice-pw"), header: Self.header(.saslAuthenticate, 2))
            == .close(reason: "SaslAuthenticate before SaslHandshake"))
        var v0 = SaslAuthentication(directory: Self.users)
        guard case .close = v0.handshake(SaslHandshakeRequest(mechanism: "PLAIN"), header: Self.header(.saslHandshake, 0)) else {
            Issue.record("SaslHandshake v0 was accepted")
            return
        }
        var unknown = SaslAuthentication(directory: Self.users)
        guard case .respondAndClose(let frame, _) = unknown.handshake(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), header: Self.header(.saslHandshake, 1))
        else {
            Issue.record("a mechanism not enabled was accepted")
            return
        }
        let (_, response) = try KafkaResponseFrame.decode(SaslHandshakeResponse.self, frame: Self.frameBody(frame), version: 1)
        #expect(response.errorCode == .unsupportedSASLMechanism && response.mechanisms == ["SCRAM-SHA-512", "PLAIN"])
    }

    /// A response frame without its size prefix, as the decoder takes it.
    static func frameBody(_ frame: ByteBuffer) -> ByteBuffer {
        var frame = frame
        frame.moveReaderIndex(forwardBy: 4)
        return frame
    }

    // MARK: The endpoint with users, over a socket

    static func withSecuredServer(_ body: (KafkaServerTests.Fixture) async throws -> Void, label: String = #function) async throws {
        try await KafkaServerTests.withServer(
            configure: {
                $0.security = KafkaEndpointSecurity(
                    mechanisms: [.plain, .scramSHA256], users: [SASLUser(name: "alice", password: "alice-pw", topics: [TopicGlob("ord*")])])
            }, label: label, body)
    }

    @Test func beforeAuthenticationOnlyApiVersionsAndSaslAreAnswered() async throws {
        try await Self.withSecuredServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let versions = try client.roundTrip(.apiVersions(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1")), version: 3, as: ApiVersionsResponse.self)
            let ranges = Dictionary(uniqueKeysWithValues: versions.apiKeys.map { ($0.apiKey, $0.minVersion...$0.maxVersion) })
            #expect(ranges[ApiKey.saslHandshake.rawValue] == 1...1 && ranges[ApiKey.saslAuthenticate.rawValue] == 0...2)
            try client.send(.metadata(MetadataRequest(topics: nil)), version: 12)
            #expect(try client.readFrame() == nil, "Metadata before authentication was answered")
        }
        // Without users, the SASL APIs are neither advertised nor answered.
        try await KafkaServerTests.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let versions = try client.roundTrip(.apiVersions(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1")), version: 3, as: ApiVersionsResponse.self)
            #expect(!versions.apiKeys.contains { $0.apiKey == ApiKey.saslHandshake.rawValue || $0.apiKey == ApiKey.saslAuthenticate.rawValue })
        }
    }

    @Test func anAuthenticatedUserReadsOnlyItsTopics() async throws {
        try await Self.withSecuredServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let handshake = try client.roundTrip(.saslHandshake(SaslHandshakeRequest(mechanism: "PLAIN")), version: 1, as: SaslHandshakeResponse.self)
            #expect(handshake.errorCode == .none)
            let authenticated = try client.roundTrip(.saslAuthenticate(Self.plainToken("alice", "alice-pw")), version: 2, as: SaslAuthenticateResponse.self)
            #expect(authenticated.errorCode == .none)

            let all = try client.roundTrip(.metadata(MetadataRequest(topics: nil)), version: 12, as: MetadataResponse.self)
            #expect(all.topics.map(\.name) == ["orders"])
            let named = try client.roundTrip(
                .metadata(MetadataRequest(topics: [.init(name: "customers"), .init(name: "orders")])), version: 12, as: MetadataResponse.self)
            #expect(named.topics.map(\.errorCode) == [.topicAuthorizationFailed, .none])
            #expect(named.topics[0].partitions.isEmpty)

            let fetch = KafkaRequest.fetch(FetchRequest(
                maxWaitMs: 0, minBytes: 0, isolationLevel: .readCommitted,
                topics: ["customers", "orders"].map { FetchRequest.Topic(name: $0, partitions: [FetchRequest.Partition(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]) }))
            let fetched = try client.roundTrip(fetch, version: 12, as: FetchResponse.self)
            #expect(fetched.responses.map { $0.partitions[0].errorCode } == [.topicAuthorizationFailed, .none])
            #expect(fetched.responses[0].partitions[0].records?.readableBytes == 0)
            #expect((fetched.responses[1].partitions[0].records?.readableBytes ?? 0) > 0)

            let listed = try client.roundTrip(
                .listOffsets(ListOffsetsRequest(isolationLevel: .readCommitted, topics: [
                    .init(name: "customers", partitions: [.init(partitionIndex: 0, timestamp: ListOffsetsRequest.latestTimestamp)])
                ])), version: 7, as: ListOffsetsResponse.self)
            #expect(listed.topics.first?.partitions.first?.errorCode == .topicAuthorizationFailed)

            let committed = try client.roundTrip(
                .offsetFetch(OffsetFetchRequest(groupID: "g", topics: [.init(name: "customers", partitionIndexes: [0])])), version: 7, as: OffsetFetchResponse.self)
            #expect(committed.topics.first?.partitions.first?.errorCode == .topicAuthorizationFailed)
        }
    }

    @Test func aWrongPasswordIsToldThenTheConnectionIsClosed() async throws {
        try await Self.withSecuredServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            _ = try client.roundTrip(.saslHandshake(SaslHandshakeRequest(mechanism: "PLAIN")), version: 1, as: SaslHandshakeResponse.self)
            let refused = try client.roundTrip(.saslAuthenticate(Self.plainToken("alice", "wrong")), version: 2, as: SaslAuthenticateResponse.self)
            #expect(refused.errorCode == .saslAuthenticationFailed)
            #expect(try client.readFrame() == nil, "the connection stayed open after a failed authentication")
        }
    }
}
