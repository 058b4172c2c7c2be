/// Group commit for concurrent callers: each `submit` is one source transaction (its records
/// for any partitions, and the metadata to resume after it); submits that arrive while a
/// commit's fsyncs run are appended to the next log transaction and share its commit.
///
/// The actor runs the writer's blocking calls itself, so while one commit is in flight new
/// submits queue up on the actor; the first of them schedules the next flush behind the
/// others, and that flush commits them all with the newest metadata (source transactions
/// arrive in commit order, so the last one's position covers the group). A log transaction
/// is also flushed as soon as it holds `policy.maxBytes`. It never waits on purpose, so
/// `policy.maxLatencyMilliseconds` does not apply here: latency is one commit at most.
///
/// A failing append aborts the whole open log transaction and fails every caller waiting on
/// it: their source transactions were not committed and must be sent again.
public actor GroupCommitter {
    private let writer: LogWriter
    private let policy: GroupCommitPolicy
    private var waiting: [CheckedContinuation<CommitResult, any Error>] = []
    private var latestMetadata: [UInt8] = []
    private var flushScheduled = false
    /// Log commits made so far (for observing how well submits coalesce).
    public private(set) var commits = 0

    public init(writer: sending LogWriter, policy: GroupCommitPolicy = GroupCommitPolicy()) {
        self.writer = writer
        self.policy = policy
    }

    /// The metadata of the last durable commit when the committer was created or since.
    public var lastCommittedMetadata: [UInt8]? { writer.lastCommittedMetadata }

    /// Appends one source transaction and returns once a commit including it is durable.
    public func submit(_ appends: [(TopicPartition, [Record])], metadata: [UInt8]) async throws -> CommitResult {
        do {
            if !writer.isInTransaction { try writer.beginTransaction() }
            for (tp, records) in appends where !records.isEmpty { try writer.append(records, to: tp) }
        } catch {
            failGroup(error)
            throw error
        }
        latestMetadata = metadata
        return try await withCheckedThrowingContinuation { continuation in
            waiting.append(continuation)
            if writer.transactionBytes >= policy.maxBytes {
                flush()
            } else if !flushScheduled {
                flushScheduled = true
                Task { self.flush() }  // runs on this actor, after the submits already queued
            }
        }
    }

    private func flush() {
        flushScheduled = false
        guard !waiting.isEmpty else { return }
        let group = waiting
        waiting = []
        do {
            let result = try writer.commit(metadata: latestMetadata)
            commits += 1
            for continuation in group { continuation.resume(returning: result) }
        } catch {
            for continuation in group { continuation.resume(throwing: error) }
        }
    }

    private func failGroup(_ error: any Error) {
        if writer.isInTransaction { try? writer.abort() }
        let group = waiting
        waiting = []
        for continuation in group { continuation.resume(throwing: error) }
    }

    /// Commits what is pending, then releases the log directory.
    public func close() {
        flush()
        writer.close()
    }
}
