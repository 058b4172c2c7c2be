import ArgumentParser
import PostgresSource

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Connects to Postgres in replication mode and says whether it is ready for Outflow.")

    @OptionGroup var postgres: PostgresOptions

    func run() async throws {
        do {
            let connection = try PostgresConnection(try postgres.connectionString(), mode: .replication)
            let identity = try connection.identifySystem()
            print("connected: \(connection.redactedConnectionString)")
            print("server version: \(connection.serverVersion / 10000).\(connection.serverVersion % 10000)")
            print("system id: \(identity.systemID), timeline \(identity.timeline), WAL at \(identity.xlogPosition)")
            let report = try connection.preflight()
            for line in report.lines { print(line) }
            if !report.problems.isEmpty {
                var standardError = StandardError()
                for problem in report.problems { print("error: \(problem)", to: &standardError) }
                throw ExitCode.failure
            }
            print("ready for logical replication")
        } catch let error as PostgresError {
            throw exitWithError(error)
        }
    }
}
