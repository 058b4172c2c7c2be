import PGOutput
import PostgresSource

/// One change through the pipeline: decode its rows, run the stage graph, and prepare each
/// output for the sink — or, for an event that cannot go on, a dead letter or a failure that
/// stops the pipeline. The live, streamed and replayed paths all use this one, so the same
/// change gives the same records, dead letters and failures on every path; they differ only
/// in what they do with the outcome (write it now, or spool it until the commit).
final class EventProcessor {
    /// What one change became.
    enum Outcome {
        case record(PendingRecord)
        case deadLetter(PendingRecord, DeadLetterNote)
        /// Stops the pipeline (when the transaction commits with it).
        case failure(StagedFailure)
    }

    let graph: CompiledStageGraph
    let rows: ChangeRowDecoding
    let sink: any Sink
    let deadLetterTopic: String
    let deadLetterOnFailure: Bool
    /// Replay `--into SUFFIX`: appended to every output topic and to the dead-letter topic.
    let topicSuffix: String?

    init(graph: CompiledStageGraph, rows: ChangeRowDecoding, sink: any Sink, deadLetterTopic: String, deadLetterOnFailure: Bool, topicSuffix: String? = nil) {
        self.graph = graph
        self.rows = rows
        self.sink = sink
        self.deadLetterTopic = deadLetterTopic + (topicSuffix ?? "")
        self.deadLetterOnFailure = deadLetterOnFailure
        self.topicSuffix = topicSuffix
    }

    /// Runs `event` through; `emit` receives each outcome in order.
    func process(_ event: PipelineEvent, emit: (Outcome) throws(PipelineError) -> Void) throws(PipelineError) {
        var event = event
        do { try rows.decode(&event) } catch {
            return try emit(deadLetter(event, reason: "\(error)", stage: "source"))
        }
        do {
            try graph.run(
                event,
                sink: { output throws(PipelineError) in try emit(prepare(output)) },
                failed: { event, failure throws(PipelineError) in
                    try emit(failure.stopsPipeline ? Self.failure(event, reason: failure.message, stage: failure.stageID) : deadLetter(event, reason: failure.message, stage: failure.stageID))
                })
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(.stageFailed, "\(error)", underlying: error)
        }
    }

    private func prepare(_ output: PipelineEvent) -> Outcome {
        var output = output
        if let topicSuffix, let topic = output.topic { output.topic = topic + topicSuffix }
        do { return .record(try sink.prepare(output)) } catch {
            guard error.isEventError else { return Self.failure(output, reason: error.message, stage: "sink") }
            return deadLetter(output, reason: error.message, stage: "sink")
        }
    }

    private func deadLetter(_ event: PipelineEvent, reason: String, stage: String) -> Outcome {
        guard deadLetterOnFailure else { return Self.failure(event, reason: reason, stage: stage) }
        do {
            let record = try sink.prepare(event.deadLetter(topic: deadLetterTopic, stage: stage, reason: reason))
            return .deadLetter(record, DeadLetterNote(stage: stage, reason: reason))
        } catch {
            return Self.failure(event, reason: "its dead letter could not be written: \(error.message) (the event's own failure: \(reason))", stage: stage)
        }
    }

    private static func failure(_ event: PipelineEvent, reason: String, stage: String) -> Outcome {
        .failure(StagedFailure(stage: stage, reason: reason, table: event.origin.table.description, sequence: event.origin.sequence))
    }

    /// Why the pipeline stops on an event.
    static func failureMessage(_ failure: StagedFailure, position: String, xid: UInt32) -> String {
        "stage \(failure.stage) failed on the event of \(failure.table) at \(position) (xid \(xid), change #\(failure.sequence)): \(failure.reason)"
    }
}
