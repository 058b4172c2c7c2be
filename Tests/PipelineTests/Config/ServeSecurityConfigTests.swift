import Foundation
import Testing
@testable import Pipeline

/// `serve.tls` and `serve.sasl`: the Kafka endpoint's certificate and users, passwords only by
/// reference, and PLAIN refused without TLS at the place it is written.
@Suite struct ServeSecurityConfigTests {
    static func file(serve: String) -> String {
        """
        version: 1
        name: orders
        source:
          postgres:
            url: ${env:OUTFLOW_PG_URL}
            tables: [public.outbox]
        stages:
          - outbox: {table: public.outbox}
        sink:
          log: {dir: ./data}
        serve:
        \(serve.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    static let environment = ConfigEnvironment.fixed([
        "OUTFLOW_PG_URL": "postgres://outflow@db/shop", "ALICE_PASSWORD": "alice-pw-do-not-print", "BOB_PASSWORD": "bob-pw-do-not-print",
    ])

    @Test func tlsAndUsersWithTheirTopics() throws {
        let config = try PipelineFile.parse(yaml: Self.file(serve: """
            listen: 127.0.0.1:9093
            tls: {certificate: server.pem, private_key: server.key}
            sasl:
              users:
                - {name: alice, password: "${env:ALICE_PASSWORD}", topics: ["orders.*", audit]}
                - name: bob
                  password: ${env:BOB_PASSWORD}
                  topics: ["*"]
            """), environment: Self.environment)
        let serve = try #require(config.serve)
        #expect(serve.tls == ServeTLSConfig(certificatePath: "server.pem", privateKeyPath: "server.key"))
        let sasl = try #require(serve.sasl)
        #expect(sasl.mechanisms == [.scramSHA256, .scramSHA512])
        #expect(sasl.allowPlaintextPasswords == false)
        #expect(sasl.users.map(\.name) == ["alice", "bob"])
        #expect(sasl.users[0].password.value == "alice-pw-do-not-print")
        #expect(sasl.users[0].topics == ["orders.*", "audit"])
        // What explain and logs see: the references, never the passwords.
        let shown = config.resolved.redactedYAML
        #expect(shown.contains("${env:ALICE_PASSWORD}"))
        #expect(!shown.contains("alice-pw-do-not-print") && !shown.contains("bob-pw-do-not-print"))
        #expect(config.secrets.redact("failed: alice-pw-do-not-print") == "failed: [redacted]")
        #expect(shown.contains("- SCRAM-SHA-256"))
    }

    @Test func plainWithoutTLSIsRefusedWhereItIsWritten() {
        let text = Self.file(serve: """
            listen: 127.0.0.1:9093
            sasl:
              mechanisms: [SCRAM-SHA-512, PLAIN]
              users: [{name: alice, password: "${env:ALICE_PASSWORD}", topics: ["*"]}]
            """)
        let diagnostics = Fixtures.diagnostics(text, environment: Self.environment)
        #expect(diagnostics.map(\.message) == ["PLAIN without TLS sends passwords in the clear"])
        #expect(diagnostics.first?.location == Fixtures.location(of: "PLAIN", in: text))
        #expect(diagnostics.first?.code == .conflictingOptions)
    }

    @Test func plainWithTLSOrWhenAllowedLoads() throws {
        for serve in [
            "tls: {certificate: a.pem, private_key: a.key}\nsasl: {mechanisms: [PLAIN], users: [{name: a, password: '${env:ALICE_PASSWORD}', topics: ['*']}]}",
            "sasl: {mechanisms: [PLAIN], allow_plaintext_passwords: true, users: [{name: a, password: '${env:ALICE_PASSWORD}', topics: ['*']}]}",
        ] {
            let config = try PipelineFile.parse(yaml: Self.file(serve: serve), environment: Self.environment)
            #expect(config.serve?.sasl?.mechanisms == [.plain])
        }
    }

    @Test func passwordsOnlyByReferenceAndEachUserOnce() {
        let literal = Self.file(serve: "sasl: {users: [{name: alice, password: hunter22, topics: ['*']}]}")
        #expect(Fixtures.diagnostics(literal, environment: Self.environment).map(\.message) == ["password must be given by reference"])
        let twice = Self.file(serve: """
            sasl:
              users:
                - {name: alice, password: "${env:ALICE_PASSWORD}", topics: ["*"]}
                - {name: alice, password: "${env:BOB_PASSWORD}", topics: ["*"]}
            """)
        #expect(Fixtures.diagnostics(twice, environment: Self.environment).map(\.message) == ["user 'alice' is listed twice"])
        let noTopics = Self.file(serve: "sasl: {users: [{name: alice, password: '${env:ALICE_PASSWORD}', topics: []}]}")
        #expect(Fixtures.diagnostics(noTopics, environment: Self.environment).map(\.message) == ["the list needs at least 1 item"])
        let unknown = Self.file(serve: "sasl: {mechanisms: [SCRAM-SHA-1], users: [{name: alice, password: '${env:ALICE_PASSWORD}', topics: ['*']}]}")
        #expect(Fixtures.diagnostics(unknown, environment: Self.environment).map(\.message) == ["invalid value 'SCRAM-SHA-1'"])
    }

    @Test func aUsersFileIsCheckedAsAPipelineFileIs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "secret-from-a-file\n".write(to: directory.appendingPathComponent("alice.password"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("users.yaml").path
        let text = "mechanisms: [PLAIN, SCRAM-SHA-256]\nusers:\n  - {name: alice, password: '${file:alice.password}', topics: [orders]}\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)

        // The process's environment: it reads the password file for real.
        let (sasl, secrets) = try ServeUsersFile.load(path: path, tlsConfigured: true)
        #expect(sasl.users.first?.password.value == "secret-from-a-file")
        #expect(secrets.redact("x secret-from-a-file y") == "x [redacted] y")

        #expect(throws: PipelineFileError.self) { try ServeUsersFile.load(path: path, tlsConfigured: false) }
        do {
            _ = try ServeUsersFile.load(path: path, tlsConfigured: false)
        } catch {
            #expect(error.diagnostics.map(\.location) == [FileLocation(file: path, line: 1, column: 14)])
            #expect(error.description.hasPrefix("\(path):1:14: error: PLAIN without TLS sends passwords in the clear"))
        }
    }
}
