import Foundation
import Testing

/// `outflow serve` with TLS and SASL, read by stock clients: kafka-python and confluent-kafka
/// (librdkafka) from the oracle venv, over TLS with a CA and server certificate that openssl
/// makes for the test. SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN read every committed record; a
/// wrong password is refused; a topic outside the user's allow-list is refused and not listed.
@Suite(.serialized) struct ServeSecurityTests {
    /// A CA and a server certificate for 127.0.0.1 signed by it, in `directory`.
    static func makeCertificates(in directory: URL) throws -> (ca: String, certificate: String, key: String) {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\n".write(toFile: path("san.ext"), atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"),
             "-days", "2", "-subj", "/CN=Outflow test CA"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("server.key"), "-out", path("server.csr"),
             "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial", "-out", path("server.pem"),
             "-days", "2", "-extfile", path("san.ext")],
        ]
        guard let openssl = OutflowProcess.which("openssl") else {
            throw MissingTestPrerequisite(description: "openssl is not installed (scripts/bootstrap installs it)")
        }
        for arguments in steps {
            let result = try OutflowProcess.run(executable: openssl, arguments)
            guard result.status == 0 else { throw MissingTestPrerequisite(description: "openssl \(arguments[0]) failed: \(result.standardError)") }
        }
        return (path("ca.pem"), path("server.pem"), path("server.key"))
    }

    static let alicePassword = "alice-Pa55word-not-for-logs"

    /// Alice reads `ev*` (the test log's `events`); Bob reads `orders.*` only.
    static func writeUsers(in directory: URL, mechanisms: String) throws -> String {
        try "\(alicePassword)\n".write(to: directory.appendingPathComponent("alice.password"), atomically: true, encoding: .utf8)
        try "bob-password-also-secret\n".write(to: directory.appendingPathComponent("bob.password"), atomically: true, encoding: .utf8)
        let users = """
            mechanisms: [\(mechanisms)]
            users:
              - {name: alice, password: "${file:alice.password}", topics: ["ev*"]}
              - {name: bob, password: "${file:bob.password}", topics: ["orders.*"]}
            """
        let path = directory.appendingPathComponent("users.yaml").path
        try users.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct Outcome: Decodable {
        var outcome: String
        var topics: [String]?
        var partitions: [Int32]?
        var values: [String: [String]]?
        var error: String?
    }

    static func consume(
        _ client: String, port: Int, topic: String = ServeCommandTests.topic, ca: String, mechanism: String, user: String, password: String
    ) throws -> Outcome {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python and confluent-kafka that `make test` creates")
        }
        let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/consume_secure.py").path
        let result = try OutflowProcess.run(
            executable: URL(fileURLWithPath: python), [script, client, "127.0.0.1:\(port)", topic],
            environment: [
                "OUTFLOW_TEST_PROTOCOL": "SASL_SSL", "OUTFLOW_TEST_CA": ca, "OUTFLOW_TEST_MECHANISM": mechanism, "OUTFLOW_TEST_USER": user,
                "OUTFLOW_TEST_PASSWORD": password,
            ])
        guard result.status == 0 else { throw MissingTestPrerequisite(description: "\(client) failed: \(result.standardError)") }
        return try JSONDecoder().decode(Outcome.self, from: Data(result.standardOutput.utf8))
    }

    static func withSecuredServer(mechanisms: String, _ body: (ServeCommandTests.Server, ServeCommandTests.WrittenLog, String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (ca, certificate, key) = try makeCertificates(in: directory)
        let users = try writeUsers(in: directory, mechanisms: mechanisms)
        try ServeCommandTests.withServer(arguments: ["--tls-certificate", certificate, "--tls-key", key, "--users", users]) { server, written, _ in
            try body(server, written, ca)
            // Passwords are never logged, whatever happened.
            let log = try String(contentsOf: server.errorURL, encoding: .utf8)
            #expect(!log.contains(alicePassword) && !log.contains("bob-password-also-secret"))
        }
    }

    @Test(arguments: ["kafka-python", "confluent"])
    func tlsWithScramAndPlainReadsEveryCommittedRecord(client: String) throws {
        try Self.withSecuredServer(mechanisms: "SCRAM-SHA-256, SCRAM-SHA-512, PLAIN") { server, written, ca in
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
                let read = try Self.consume(client, port: server.port, ca: ca, mechanism: mechanism, user: "alice", password: Self.alicePassword)
                #expect(read.outcome == "read", "\(client) \(mechanism): \(read)")
                // confluent-kafka asks for the topic by name only (see consume_secure.py).
                #expect(read.topics == (client == "confluent" ? nil : [ServeCommandTests.topic]))
                #expect(read.partitions == [0, 1, 2])
                #expect(read.values?["0"] == written.committed[0] && read.values?["1"] == [] && read.values?["2"] == written.committed[2])
            }
            let log = try String(contentsOf: server.errorURL, encoding: .utf8)
            #expect(log.contains("Kafka client authenticated"))
        }
    }

    @Test(arguments: ["kafka-python", "confluent"])
    func aWrongPasswordIsRefused(client: String) throws {
        try Self.withSecuredServer(mechanisms: "SCRAM-SHA-256, SCRAM-SHA-512") { server, _, ca in
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                let refused = try Self.consume(client, port: server.port, ca: ca, mechanism: mechanism, user: "alice", password: "not-alices-password")
                #expect(refused.outcome == "authentication_failed", "\(client) \(mechanism): \(refused)")
            }
            let log = try String(contentsOf: server.errorURL, encoding: .utf8)
            #expect(log.contains("SASL SCRAM-SHA-256 authentication failed: wrong password for 'alice'"))
            #expect(log.contains("SASL SCRAM-SHA-512 authentication failed: wrong password for 'alice'"))
        }
    }

    @Test(arguments: ["kafka-python", "confluent"])
    func aTopicOutsideTheAllowListIsRefusedAndNotListed(client: String) throws {
        try Self.withSecuredServer(mechanisms: "SCRAM-SHA-512") { server, _, ca in
            let refused = try Self.consume(client, port: server.port, ca: ca, mechanism: "SCRAM-SHA-512", user: "bob", password: "bob-password-also-secret")
            #expect(refused.outcome == "topic_authorization_failed", "\(client): \(refused)")
            #expect(refused.topics == (client == "confluent" ? nil : []))
        }
    }

    @Test func aClientWithoutTLSIsClosedWithALogLine() throws {
        try Self.withSecuredServer(mechanisms: "SCRAM-SHA-512") { server, _, _ in
            // A plaintext ApiVersions request where a TLS ClientHello is expected.
            let handle = try OutflowProcess.run(
                executable: URL(fileURLWithPath: "/usr/bin/env"),
                ["python3", "-c", """
                    import socket, struct
                    s = socket.create_connection(("127.0.0.1", \(server.port)), timeout=20)
                    body = struct.pack(">hhih", 18, 0, 1, 1) + b"t"
                    s.sendall(struct.pack(">i", len(body)) + body)
                    answer = s.recv(100)
                    print(answer[:1].hex())
                    """])
            // A TLS alert record (content type 21), not a Kafka response.
            #expect(handle.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "15", "the server answered a plaintext client: \(handle)")
            let deadline = Date().addingTimeInterval(10)
            var log = ""
            while Date() < deadline {
                log = try String(contentsOf: server.errorURL, encoding: .utf8)
                if log.contains("closing Kafka client connection") { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            #expect(log.contains("closing Kafka client connection"), "no log line for the failed handshake: \(log)")
        }
    }

    @Test func plainWithoutTLSExits78AtThePlaceItIsWritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let users = try Self.writeUsers(in: directory, mechanisms: "SCRAM-SHA-512, PLAIN")
        let result = try OutflowProcess.run(["serve", "--log", directory.path, "--listen", "127.0.0.1:0", "--users", users])
        #expect(result.status == 78)
        #expect(result.standardError.contains("\(users):1:29: error: PLAIN without TLS sends passwords in the clear"), "\(result.standardError)")
        #expect(!result.standardError.contains(Self.alicePassword))
    }
}
