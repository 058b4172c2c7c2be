import ArgumentParser
import Foundation
import PostgresSource

/// Where the Postgres server is: `--url`, or the OUTFLOW_PG_URL environment variable.
struct PostgresOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "libpq URL or key=value connection string (default: $OUTFLOW_PG_URL). Never printed: it may hold a password.",
        valueName: "url"))
    var url: String?

    func connectionString() throws -> ConnectionString {
        guard let text = url ?? ProcessInfo.processInfo.environment["OUTFLOW_PG_URL"], !text.isEmpty else {
            throw ValidationError("no connection string: pass --url or set OUTFLOW_PG_URL")
        }
        return try ConnectionString(text)
    }
}

/// Prints a Postgres error the way every command does, and exits 1.
func exitWithError(_ error: any Error) -> ExitCode {
    var standardError = StandardError()
    print("error: \(error)", to: &standardError)
    return ExitCode.failure
}
