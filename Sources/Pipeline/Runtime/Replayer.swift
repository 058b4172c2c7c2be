import Logging
import PostgresSource
import PGOutput
import SegmentLog

/// Re-runs stages over the changelog kept in the log (`__changelog`): from a WAL position,
/// optionally to another, into the pipeline's topics or into topics with a suffix. The slot
/// cannot be rewound; the changelog is what makes replay possible.
///
/// Output is committed in log transactions like the live pipeline's, grouped by source
/// transaction. Their commit records keep the live pipeline's checkpoint as it is, so a
/// replay never moves the position the pipeline resumes from, nor its dedupe state.
public final class Replayer {
    public struct Progress: Sendable {
        public var sourceTransactions = 0
        public var changes = 0
        public var records = 0
        public var deadLetters = 0
        public var last: LSN = .zero
    }

    let graph: CompiledStageGraph
    let sink: LogSink
    let settings: PipelineRunner.Settings
    let topicSuffix: String?
    let rows: ChangeRowDecoding
    let logger: Logger
    public private(set) var progress = Progress()

    public init(
        graph: CompiledStageGraph, writer: LogWriter, settings: PipelineRunner.Settings, topicSuffix: String?,
        rowDecoder: RowDecoder = RowDecoder(connectionString: nil), logger: Logger = Logger(label: "outflow.replay")
    ) {
        self.graph = graph
        self.rows = ChangeRowDecoding(decoder: rowDecoder, graph: graph)
        self.settings = settings
        self.topicSuffix = topicSuffix
        self.logger = logger
        self.sink = LogSink(
            writer: writer, partitionCount: settings.partitions, batchRecords: settings.batchRecords, batchBytes: settings.batchBytes,
            pipelineName: settings.pipelineName, databaseName: settings.databaseName)
    }

    /// The source positions the changelog can serve: the commit LSNs of its first and last change.
    public static func retainedRange(in directory: String) throws(PipelineRunError) -> ClosedRange<LSN>? {
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
            throw PipelineRunError(message: "reading the changelog failed: \(error)", underlying: error)
        }
    }

    public func replay(from start: LSN, through end: LSN?, shouldStop: () -> Bool) throws(PipelineRunError) {
        let writer = sink.writer
        guard let range = try Self.retainedRange(in: writer.directory) else {
            throw PipelineRunError(message: "the log at \(writer.directory) keeps no changelog: set source.postgres.changelog in the pipeline file to keep one")
        }
        guard range.contains(start) else {
            throw PipelineRunError(message: start < range.lowerBound
                ? "\(start) is before what the changelog retains: it holds \(range.lowerBound) to \(range.upperBound)"
                : "\(start) is after the changelog's last position \(range.upperBound): nothing to replay (to skip the slot ahead, use outflow run --start-lsn)")
        }
        // The live checkpoint, kept unchanged in every commit record the replay writes.
        let metadata = writer.lastCommittedMetadata ?? Checkpoint(sourceEnd: .zero).encoded()
        do {
            let partition = try LogReader(directory: writer.directory).open(
                TopicPartition(topic: ChangelogCodec.topic, partition: 0), isolation: .readCommitted)
            try partition.seek(toLSN: start.rawValue)
            var currentCommit: LSN?
            reading: while !shouldStop() {
                let records = try partition.poll(maxRecords: 1000)
                if records.isEmpty { break }
                for stored in records {
                    let (origin, change) = try ChangelogCodec.change(from: stored)
                    if origin.commitLSN < start { continue }
                    if let end, origin.commitLSN > end { break reading }
                    if origin.commitLSN != currentCommit {
                        if currentCommit != nil { progress.sourceTransactions += 1 }
                        currentCommit = origin.commitLSN
                        // Commit between source transactions once the group is large enough.
                        if writer.transactionBytes >= settings.groupMaxBytes { _ = try sink.commit(metadata: metadata) }
                    }
                    progress.changes += 1
                    progress.last = origin.commitLSN
                    var event = PipelineEvent(origin: origin, change: change)
                    try rows.decode(&event)
                    try run(event)
                }
            }
            if currentCommit != nil { progress.sourceTransactions += 1 }
            _ = try sink.commit(metadata: metadata)
        } catch let error as PipelineRunError {
            try? sink.abort()
            throw error
        } catch {
            try? sink.abort()
            throw PipelineRunError(message: "replay failed: \(error)", underlying: error)
        }
    }

    private func run(_ event: PipelineEvent) throws {
        try graph.run(event, sink: { output in
            var output = output
            if let topicSuffix, let topic = output.topic { output.topic = topic + topicSuffix }
            try sink.write(output)
            progress.records += 1
        }, failed: { event, failure in
            if failure.stopsPipeline || !settings.deadLetterOnFailure { throw PipelineRunError(message: "\(failure)") }
            try sink.write(event.deadLetter(topic: settings.deadLetterTopic + (topicSuffix ?? ""), stage: failure.stageID, reason: failure.message))
            progress.deadLetters += 1
        })
    }
}
