import BinaryIO
import PGOutput
import PostgresSource

/// The live source: a replication session (pgoutput over libpq).
public final class ReplicationSource: ChangeSource {
    public let session: ReplicationSession

    public init(_ session: ReplicationSession) { self.session = session }

    public func next(timeout: Duration) throws(PipelineError) -> SourceEvent? {
        do {
            return try session.next(timeoutMilliseconds: Int32(clamping: timeout.millisecondsRoundedUp))
        } catch {
            throw PipelineError(.source, "replication failed: \(error)", underlying: error)
        }
    }

    public var isExhausted: Bool { false }

    public func acknowledge(durable position: LSN) { session.markDurable(position) }

    public func sendAcknowledgements() throws(PipelineError) {
        do { try session.sendStatus(force: true) } catch {
            throw PipelineError(.source, "sending the acknowledgement failed: \(error)", underlying: error)
        }
    }
}
