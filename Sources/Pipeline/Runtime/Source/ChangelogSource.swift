import PGOutput
import PostgresSource
import SegmentLog

/// The changelog (`__changelog`, written by a pipeline with `changelog:`) read back as a source:
/// the source transactions whose commit LSN is within a range, as Begin, changes, Commit —
/// what `outflow replay` runs the stages over. It is finite: exhausted after the last one.
///
/// The changelog keeps each change with its transaction's commit LSN, xid and time, not the
/// end of the commit record: a Commit from here carries the commit LSN as its end. Replay never
/// acknowledges or checkpoints a position, so nothing reads it as one.
public final class ChangelogSource: ChangeSource {
    private let partition: PartitionReader
    private let start: LSN
    private let end: LSN?
    private var queue: [SourceEvent] = []
    private var queueIndex = 0
    private var open: TransactionBegin?
    private var finished = false

    /// Opens the changelog of the log at `directory` at `start` (which it must hold).
    public init(directory: String, from start: LSN, through end: LSN?) throws(PipelineError) {
        guard let range = try Self.retainedRange(in: directory) else {
            throw PipelineError(.replayRange, "the log at \(directory) keeps no changelog: set source.postgres.changelog in the pipeline file to keep one")
        }
        guard range.contains(start) else {
            throw PipelineError(.replayRange, start < range.lowerBound
                ? "\(start) is before what the changelog retains: it holds \(range.lowerBound) to \(range.upperBound)"
                : "\(start) is after the changelog's last position \(range.upperBound): nothing to replay (to skip the slot ahead, use outflow run --start-lsn)")
        }
        do {
            partition = try LogReader(directory: directory).open(TopicPartition(topic: ChangelogCodec.topic, partition: 0), isolation: .readCommitted)
            try partition.seek(toLSN: start.rawValue)
        } catch {
            throw PipelineError(.source, "opening the changelog failed: \(error)", underlying: error)
        }
        self.start = start
        self.end = end
    }

    /// The source positions the changelog can serve: the commit LSNs of its first and last change.
    public static func retainedRange(in directory: String) throws(PipelineError) -> ClosedRange<LSN>? {
        do {
            let reader = try LogReader(directory: directory)
            guard try reader.partitions().contains(where: { $0.topic == ChangelogCodec.topic }) else { return nil }
            let partition = try reader.open(TopicPartition(topic: ChangelogCodec.topic, partition: 0), isolation: .readCommitted)
            guard let first = try partition.poll(maxRecords: 1).first?.record.sourceLSN else { return nil }
            // The last one: read only the tail (the newest few thousand offsets).
            try partition.seek(toOffset: max(try partition.logStartOffset(), try partition.endOffset() - 10_000))
            var last = first
            while true {
                let records = try partition.poll(maxRecords: 5000)
                guard let newest = records.last?.record.sourceLSN else { break }
                last = max(last, newest)
            }
            return LSN(first)...LSN(last)
        } catch {
            throw PipelineError(.source, "reading the changelog failed: \(error)", underlying: error)
        }
    }

    public var isExhausted: Bool { finished && queueIndex == queue.count }

    public func next(timeout: Duration) throws(PipelineError) -> SourceEvent? {
        if queueIndex == queue.count, !finished { try fill() }
        guard queueIndex < queue.count else { return nil }
        defer { queueIndex += 1 }
        return queue[queueIndex]
    }

    /// Replay acknowledges nothing: the slot's position belongs to the live pipeline.
    public func acknowledge(durable position: LSN) {}
    public func sendAcknowledgements() throws(PipelineError) {}

    private func fill() throws(PipelineError) {
        queue.removeAll(keepingCapacity: true)
        queueIndex = 0
        let records: [StoredRecord]
        do { records = try partition.poll(maxRecords: 1000) } catch {
            throw PipelineError(.source, "reading the changelog failed: \(error)", underlying: error)
        }
        for stored in records {
            let origin: EventOrigin
            let change: SourceChange
            do { (origin, change) = try ChangelogCodec.change(from: stored) } catch {
                throw PipelineError(.source, "the changelog holds a record Outflow cannot read (offset \(stored.offset)): \(error)", underlying: error)
            }
            if origin.commitLSN < start { continue }
            if let end, origin.commitLSN > end {
                finish()
                return
            }
            if open?.commitLSN != origin.commitLSN {
                closeOpenTransaction()
                let begin = TransactionBegin(xid: origin.xid, commitLSN: origin.commitLSN, commitTime: origin.commitTime)
                queue.append(.begin(begin))
                open = begin
            }
            queue.append(.change(change))
        }
        if records.isEmpty { finish() }
    }

    private func closeOpenTransaction() {
        guard let open else { return }
        queue.append(.commit(TransactionCommit(xid: open.xid, commitLSN: open.commitLSN, endLSN: open.commitLSN, commitTime: open.commitTime)))
        self.open = nil
    }

    private func finish() {
        closeOpenTransaction()
        finished = true
    }
}
