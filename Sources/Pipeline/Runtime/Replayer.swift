import Logging
import PGOutput
import PostgresSource
import SegmentLog

/// Re-runs stages over the changelog kept in the log (`__changelog`): from a WAL position,
/// optionally to another, into the pipeline's topics or into topics with a suffix. The slot
/// cannot be rewound; the changelog is what makes replay possible.
///
/// It is the pipeline runner on a `ChangelogSource` with the replay delivery mode: the same
/// event processor as the live pipeline (the same records, dead letters and failures), output
/// committed in log transactions whose commit records keep the live pipeline's checkpoint as it
/// is, so a replay never moves the position the pipeline resumes from, nor its dedupe state.
public final class Replayer {
    public struct Progress: Sendable {
        public var sourceTransactions = 0
        public var changes = 0
        public var records = 0
        public var deadLetters = 0
        public var last: LSN = .zero
    }

    let graph: CompiledStageGraph
    let writer: LogWriter
    let settings: PipelineRunner.Settings
    let topicSuffix: String?
    let rowDecoder: RowDecoder
    let logger: Logger
    public private(set) var progress = Progress()

    public init(
        graph: CompiledStageGraph, writer: LogWriter, settings: PipelineRunner.Settings, topicSuffix: String?,
        rowDecoder: RowDecoder = RowDecoder(connectionString: nil), logger: Logger = Logger(label: "outflow.replay")
    ) {
        self.graph = graph
        self.writer = writer
        self.settings = settings
        self.topicSuffix = topicSuffix
        self.rowDecoder = rowDecoder
        self.logger = logger
    }

    /// The source positions the changelog can serve: the commit LSNs of its first and last change.
    public static func retainedRange(in directory: String) throws(PipelineError) -> ClosedRange<LSN>? {
        try ChangelogSource.retainedRange(in: directory)
    }

    /// Replays; `report` sees the progress after every group commit and pause.
    public func replay(from start: LSN, through end: LSN?, shouldStop: () -> Bool, report: (Progress) -> Void = { _ in }) throws(PipelineError) {
        let source = try ChangelogSource(directory: writer.directory, from: start, through: end)
        // Fresh stage state, in directories of the stages' own: never the live pipeline's.
        var settings = settings
        settings.stateDirectory = nil
        let sink = LogSink(writer: writer, settings: settings)
        let live: Checkpoint?
        do { live = try sink.lastCheckpoint() } catch { throw PipelineError(error) }
        let runner = try PipelineRunner(
            graph: graph, sink: sink, settings: settings, mode: ReplayDelivery(liveCheckpoint: live ?? Checkpoint(sourceEnd: .zero)), topicSuffix: topicSuffix,
            rowDecoder: rowDecoder, logger: logger, clock: SystemClock())
        defer {
            let done = runner.progress
            progress = Progress(
                sourceTransactions: done.sourceTransactions, changes: done.events, records: done.records, deadLetters: done.deadLetters,
                last: done.received)
        }
        do throws(PipelineError) {
            try runner.run(source: source, shouldStop: shouldStop, report: { done in
                report(Progress(
                    sourceTransactions: done.sourceTransactions, changes: done.events, records: done.records, deadLetters: done.deadLetters,
                    last: done.received))
            })
        } catch {
            try? sink.abort()
            throw error
        }
    }
}
