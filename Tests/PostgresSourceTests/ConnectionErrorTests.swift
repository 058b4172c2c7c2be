import Testing
import PostgresSource

@Suite struct ConnectionErrorTests {
    @Test(arguments: ["postgresql://host:notaport/db", "postgresql://[::1/db", "host=localhost port", "dbname='unterminated"])
    func malformedConnectionStringsAreReportedAsSuch(text: String) throws {
        let error = #expect(throws: PostgresError.self) { try ConnectionString(text) }
        #expect(error?.code == .invalidConnectionString)
        #expect(error?.message.hasPrefix("invalid connection string:") == true)
        #expect(error?.hint != nil)
    }

    @Test func aWrongPasswordSaysSoAndIsNeverPrinted() throws {
        let good = try TestPostgres.url()
        let host = try #require(good.value(of: "hostaddr") ?? good.value(of: "host"))
        let port = try #require(good.value(of: "port"))
        let secret = "not-the-password-\(UInt32.random(in: 0...UInt32.max))"
        let bad = try ConnectionString("postgresql://outflow:\(secret)@\(host):\(port)/outflow")
        #expect(!bad.redacted.contains(secret))

        let error = #expect(throws: PostgresError.self) { try PostgresConnection(bad, mode: .replication) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("password authentication failed") == true)
        #expect(error?.hint?.contains("password") == true)
        #expect(error.map { !"\($0)".contains(secret) } == true)
    }

    @Test func nothingListeningIsAConnectionFailureWithAHint() throws {
        // Port 1 on loopback: privileged and unused, so the connection is refused at once.
        let url = try ConnectionString("postgresql://outflow@127.0.0.1:1/outflow?connect_timeout=2")
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(url) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.hint?.contains("server running") == true)
    }

    @Test func aRoleWithoutReplicationCannotOpenAReplicationConnection() throws {
        let admin = try PostgresConnection(try TestPostgres.adminURL())
        let role = TestPostgres.uniqueName("no_replication")
        try admin.execute("CREATE ROLE \(role) LOGIN PASSWORD 'pw'")
        defer { _ = try? admin.execute("DROP ROLE \(role)") }
        let good = try TestPostgres.url()
        let url = try ConnectionString("postgresql://\(role):pw@\(good.value(of: "host")!):\(good.value(of: "port")!)/outflow")

        _ = try PostgresConnection(url)  // an ordinary connection is fine
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(url, mode: .replication) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.hint?.contains("REPLICATION") == true)
    }
}
