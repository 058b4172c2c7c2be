import ArgumentParser

/// The `outflow` command: change-data-capture from PostgreSQL into a Kafka-format log.
@main
struct Outflow: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "outflow",
        abstract: "Change-data-capture from PostgreSQL logical replication into a Kafka-format log.",
        discussion: """
            Outflow reads a transactional-outbox table (or any table) through the pgoutput \
            plugin, passes the changes through the stages of a pipeline file, and writes them \
            zstd-compressed into a local log whose segments use Apache Kafka's on-disk format.

            Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 invalid configuration.
            """,
        version: version,
        subcommands: [
            RunCommand.self,
            ValidateCommand.self,
            TailCommand.self,
            ServeCommand.self,
            ReplayCommand.self,
            ExplainCommand.self,
            SchemaCommand.self,
            LogCommand.self,
            CheckCommand.self,
            SlotsCommand.self,
            StatusCommand.self,
            SnapshotCommand.self,
        ]
    )
}
