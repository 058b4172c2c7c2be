import ArgumentParser

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Connects to Postgres in replication mode and checks it is ready for Outflow.")
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var arguments: [String] = []
    func run() async throws { try notImplementedYet("check") }
}
