import ArgumentParser
import Foundation
import PGOutput
import PostgresSource

struct SlotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slots",
        abstract: "Lists, creates and drops logical replication slots and their publications.",
        subcommands: [SlotsListCommand.self, SlotsCreateCommand.self, SlotsDropCommand.self],
        defaultSubcommand: SlotsListCommand.self)
}

struct SlotsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists the server's replication slots.")
    @OptionGroup var postgres: PostgresOptions

    func run() async throws {
        do {
            let connection = try PostgresConnection(try postgres.connectionString())
            let slots = try connection.replicationSlots()
            if slots.isEmpty { print("no replication slots") }
            for slot in slots {
                let state = slot.active ? "active (pid \(slot.activePID.map(String.init) ?? "?"))" : "inactive"
                print("\(slot.name)\t\(slot.slotType)\t\(slot.plugin ?? "-")\t\(slot.database ?? "-")\t\(state)\tconfirmed \(slot.confirmedFlushLSN?.description ?? "-")\trestart \(slot.restartLSN?.description ?? "-")\t\(slot.walStatus ?? "-")")
            }
        } catch let error as PostgresError {
            throw exitWithError(error)
        }
    }
}

struct SlotsCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Creates a pgoutput slot (and its publication) when missing; reuses what exists.")
    @OptionGroup var postgres: PostgresOptions
    @Argument(help: "Slot name: lower-case letters, digits and underscores.") var slot: String
    @Option(help: "Publication to create when missing (needs --table).") var publication: String?
    @Option(name: .customLong("table"), help: "A table to publish, schema.table (repeatable).") var tables: [String] = []
    @Option(help: "Operations the publication publishes: insert, update, delete, truncate (comma list).")
    var publish: String = "insert"
    @Flag(help: "Decode prepared transactions at PREPARE time (TWO_PHASE slot).") var twoPhase = false

    func validate() throws {
        guard isValidSlotName(slot) else {
            throw ValidationError("invalid slot name \"\(slot)\": lower-case letters, digits and underscores, at most 63")
        }
        for table in tables where TableName(table) == nil { throw ValidationError("invalid table name \"\(table)\": use schema.table") }
        for operation in publish.split(separator: ",") where PublishedOperation(rawValue: operation.trimmingCharacters(in: .whitespaces)) == nil {
            throw ValidationError("unknown operation \"\(operation)\": insert, update, delete or truncate")
        }
        if publication != nil && tables.isEmpty { throw ValidationError("--publication needs at least one --table") }
    }

    func run() async throws {
        do {
            let connection = try PostgresConnection(try postgres.connectionString(), mode: .replication)
            if let publication {
                let operations = publish.split(separator: ",").compactMap { PublishedOperation(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
                let outcome = try connection.ensurePublication(publication, tables: tables.compactMap(TableName.init), operations: operations)
                print("publication \(publication): \(outcome.rawValue) (\(tables.joined(separator: ", ")); publish \(publish))")
            }
            let (info, outcome) = try connection.ensureLogicalReplicationSlot(slot, twoPhase: twoPhase)
            print("slot \(slot): \(outcome.rawValue) (pgoutput, confirmed at \(info.confirmedFlushLSN?.description ?? "-"))")
        } catch let error as PostgresError {
            throw exitWithError(error)
        }
    }
}

struct SlotsDropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Drops a replication slot. The WAL it held is released; its position is lost for good.")
    @OptionGroup var postgres: PostgresOptions
    @Argument(help: "Slot name.") var slot: String
    @Flag(help: "Wait for the process using the slot to let go instead of failing.") var wait = false

    func run() async throws {
        do {
            let connection = try PostgresConnection(try postgres.connectionString(), mode: .replication)
            try connection.dropReplicationSlot(slot, wait: wait)
            print("slot \(slot): dropped")
        } catch let error as PostgresError {
            throw exitWithError(error)
        }
    }
}
