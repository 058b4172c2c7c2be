import Foundation
import PostgresSource

/// The throwaway server `make test` starts (scripts/pg-sandbox). Tests that need it fail with
/// this error when it is not there: they never skip.
struct MissingTestDatabase: Error, CustomStringConvertible {
    let variable: String
    var description: String {
        "\(variable) is not set: this test needs the throwaway PostgreSQL that `make test` starts "
            + "(or run: scripts/pg-sandbox run -- swift test)"
    }
}

enum TestPostgres {
    /// The pipeline's role: LOGIN REPLICATION, owner of the test database.
    static func url() throws -> ConnectionString {
        try ConnectionString(environment("OUTFLOW_TEST_PG_URL"))
    }

    /// The superuser, for setting up what the pipeline's role may not.
    static func adminURL() throws -> ConnectionString {
        try ConnectionString(environment("OUTFLOW_TEST_PG_ADMIN_URL"))
    }

    static func environment(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingTestDatabase(variable: name)
        }
        return value
    }

    /// A name no other test uses, for slots, publications and tables.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))_\(ProcessInfo.processInfo.processIdentifier)"
    }
}
