import ArgumentParser

struct SlotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slots", abstract: "Lists, creates and drops logical replication slots.")
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var arguments: [String] = []
    func run() async throws { try notImplementedYet("slots") }
}
