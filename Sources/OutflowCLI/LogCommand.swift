import ArgumentParser

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspects and verifies a log directory.",
        subcommands: [LogVerifyCommand.self, LogInspectCommand.self]
    )
}

struct LogVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Checks every segment, index and transaction of a log directory.")

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var arguments: [String] = []

    func run() async throws { try notImplementedYet("log verify") }
}

struct LogInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Prints the batches of a segment file.")

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var arguments: [String] = []

    func run() async throws { try notImplementedYet("log inspect") }
}
