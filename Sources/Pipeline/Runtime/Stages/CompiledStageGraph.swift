/// The stages wired as a DAG. An event enters at the stages that read the source, flows
/// depth-first along every edge (a fan-out copies it, a fan-in receives each copy), and
/// leaves through every output no stage consumes, into the sink.
///
/// Everything runs on the pipeline's one thread in source order, so the order of events
/// along any path is the source order: commit LSN, then position in the transaction.
public final class CompiledStageGraph {
    public struct Wiring: Sendable {
        public var stageID: String
        /// `source`, a stage id, or `id.port` for a named output.
        public var inputs: [String]

        public init(stageID: String, inputs: [String]) {
            self.stageID = stageID
            self.inputs = inputs
        }
    }

    public static let sourceInput = "source"

    public let stages: [any Stage]
    private var entry: [Int] = []
    /// Stage index → port → consuming stage indexes.
    private var consumers: [[String?: [Int]]]
    /// Per stage (by index): events in, events out, events it failed on. Plain counters on the
    /// pipeline's thread; the metrics read them at progress reports.
    private(set) var eventsIn: [Int]
    private(set) var eventsOut: [Int]
    private(set) var failures: [Int]

    public init(stages: [any Stage], wiring: [Wiring]) throws(StageFailure) {
        self.stages = stages
        consumers = Array(repeating: [:], count: stages.count)
        eventsIn = Array(repeating: 0, count: stages.count)
        eventsOut = Array(repeating: 0, count: stages.count)
        failures = Array(repeating: 0, count: stages.count)
        let index = Dictionary(uniqueKeysWithValues: stages.enumerated().map { ($1.id, $0) })
        for wire in wiring {
            guard let target = index[wire.stageID] else { throw StageFailure(stageID: wire.stageID, message: "no such stage") }
            for input in wire.inputs {
                if input == Self.sourceInput {
                    entry.append(target)
                    continue
                }
                let parts = input.split(separator: ".", maxSplits: 1)
                let (producerID, port) = (String(parts[0]), parts.count > 1 ? String(parts[1]) : nil)
                guard let producer = index[producerID] else {
                    throw StageFailure(stageID: wire.stageID, message: "input \"\(input)\" names no stage")
                }
                consumers[producer][port, default: []].append(target)
            }
        }
    }

    /// Runs one source event through the graph. `sink` receives what leaves it;
    /// `failed` receives each event a stage could not handle.
    public func run(
        _ event: PipelineEvent, sink: (PipelineEvent) throws -> Void, failed: (PipelineEvent, StageFailure) throws -> Void
    ) rethrows {
        if entry.isEmpty {
            try sink(event)
            return
        }
        for target in entry { try run(event, at: target, sink: sink, failed: failed) }
    }

    private func run(
        _ event: PipelineEvent, at node: Int, sink: (PipelineEvent) throws -> Void, failed: (PipelineEvent, StageFailure) throws -> Void
    ) rethrows {
        var outputs: [(PipelineEvent, String?)] = []
        eventsIn[node] += 1
        do {
            try stages[node].process(event) { output, port in outputs.append((output, port)) }
        } catch {
            failures[node] += 1
            try failed(event, error)
            return
        }
        eventsOut[node] += outputs.count
        for (output, port) in outputs {
            if let targets = consumers[node][port] {
                for target in targets { try run(output, at: target, sink: sink, failed: failed) }
            } else {
                try sink(output)  // an output nobody reads leaves the graph
            }
        }
    }

    public var statefulStages: [any StatefulStage] { stages.compactMap { $0 as? any StatefulStage } }

    /// What each stage has done so far, for the metrics.
    public var counts: [StageCounts] {
        stages.indices.map { index in
            let dedupe = stages[index] as? DedupeStage
            return StageCounts(
                stage: stages[index].id, eventsIn: eventsIn[index], eventsOut: eventsOut[index], failures: failures[index],
                duplicatesDropped: dedupe?.duplicatesDropped, windowEntries: dedupe?.entryCount, forgottenKeys: dedupe?.forgottenKeys,
                stateMemoryBytes: dedupe?.stateMemoryBytes, stateDiskBytes: dedupe?.stateDiskBytes)
        }
    }
}

/// One stage's counters: events in and out, failures, and for a dedupe stage its hits, the
/// keys its window holds, the keys it forgot early (a bound reached) and what its state takes.
public struct StageCounts: Sendable, Equatable {
    public var stage: String
    public var eventsIn: Int
    public var eventsOut: Int
    public var failures: Int
    public var duplicatesDropped: Int?
    public var windowEntries: Int?
    public var forgottenKeys: Int?
    public var stateMemoryBytes: Int?
    public var stateDiskBytes: Int64?

    public init(
        stage: String, eventsIn: Int, eventsOut: Int, failures: Int, duplicatesDropped: Int? = nil, windowEntries: Int? = nil,
        forgottenKeys: Int? = nil, stateMemoryBytes: Int? = nil, stateDiskBytes: Int64? = nil
    ) {
        self.stage = stage
        self.eventsIn = eventsIn
        self.eventsOut = eventsOut
        self.failures = failures
        self.duplicatesDropped = duplicatesDropped
        self.windowEntries = windowEntries
        self.forgottenKeys = forgottenKeys
        self.stateMemoryBytes = stateMemoryBytes
        self.stateDiskBytes = stateDiskBytes
    }
}
