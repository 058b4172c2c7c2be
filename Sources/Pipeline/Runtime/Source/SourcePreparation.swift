import BinaryIO
import PostgresSource

/// What `outflow run` does with the server before it streams: the preflight checks, a short
/// wait for a slot that a process just gone still holds, and the publication and slot created
/// when missing (and the file allows it).
public enum SourcePreparation {
    /// How long to wait for a slot in use. Restarted right after a crash, the old walsender may
    /// hold the slot until it notices its client is gone (usually milliseconds).
    public static let slotReleaseWait: Duration = .seconds(10)

    /// Prepares the server for `config`; `say` receives what a person should see (the slot
    /// wait, what was created). Throws `sourceNotReady` listing every problem that blocks.
    public static func prepare(_ config: PipelineConfig, connectionString: ConnectionString, say: (String) -> Void) throws(PipelineError) {
        do {
            let connection = try PostgresConnection(connectionString, mode: .replication)
            let operations = config.source.publish.compactMap { PublishedOperation(rawValue: $0.rawValue) }
            let requirements = PreflightRequirements(
                tables: config.source.tables, slot: config.source.slot, publication: config.source.publication, operations: operations)
            func blockingProblems() throws(PostgresError) -> [PostgresError] {
                // An incomplete publication is created (or completed) below when the file allows it.
                try connection.preflight(requirements).problems.filter { $0.code != .publicationIncomplete || !config.source.createMissing }
            }
            var blocking = try blockingProblems()
            let slotInUse = { (problems: [PostgresError]) in !problems.isEmpty && problems.allSatisfy { $0.code == .slotInUse } }
            if slotInUse(blocking) {
                say("slot \(config.source.slot) is in use; waiting up to \(slotReleaseWait) for it to be released")
                let deadline = ContinuousClock.now.advanced(by: slotReleaseWait)
                while slotInUse(blocking), ContinuousClock.now < deadline {
                    sleep(for: .milliseconds(100))  // polling the server, bounded by the deadline
                    blocking = try blockingProblems()
                }
            }
            guard blocking.isEmpty else {
                throw PipelineError(.sourceNotReady, blocking.map { "\($0)" }.joined(separator: "\nerror: "))
            }
            guard config.source.createMissing else { return }
            let publication = try connection.ensurePublication(config.source.publication, tables: config.source.tables, operations: operations)
            let (_, slot) = try connection.ensureLogicalReplicationSlot(config.source.slot)
            say("publication \(config.source.publication): \(publication.rawValue); slot \(config.source.slot): \(slot.rawValue)")
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(.source, "\(error)", underlying: error)
        }
    }
}
