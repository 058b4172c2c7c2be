import Foundation
import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog
import Synchronization

/// A clock that moves only when something waits on it: `sleep` and a source's read timeout
/// advance it, so a runner's timing is exact and independent of the machine's load.
final class ManualClock: RunnerClock {
    private let instant: Mutex<ContinuousClock.Instant>
    init() { instant = Mutex(ContinuousClock.now) }
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func sleep(for duration: Duration) { advance(by: duration) }
    func advance(by duration: Duration) { instant.withLock { $0 = $0.advanced(by: duration) } }
    func advance(to target: ContinuousClock.Instant) { instant.withLock { $0 = max($0, target) } }
}

/// What the runner did to the source and the sink, in order.
final class Trace {
    enum Step: Equatable {
        case write(String)
        case flush
        case commit(LSN)
        case sync(LSN?)
        case abort
        case acknowledge(LSN)
        case sendAcknowledgements
    }

    var steps: [Step] = []
    /// Steps with the time they happened (milliseconds since the script's start).
    var timed: [(ms: Int64, step: Step)] = []
    let clock: ManualClock
    let start: ContinuousClock.Instant

    init(clock: ManualClock) {
        self.clock = clock
        start = clock.now
    }

    func record(_ step: Step) {
        steps.append(step)
        timed.append(((clock.now - start).milliseconds, step))
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

/// A source that hands over scripted events at scripted times (milliseconds after the start).
/// A read with a timeout returns the next event if it is due by then, advancing the clock to
/// its time; otherwise it advances the clock by the timeout and returns nothing.
final class ScriptedSource: ChangeSource {
    private var script: [(at: Int64, event: SourceEvent)]
    private var index = 0
    let clock: ManualClock
    let trace: Trace
    let start: ContinuousClock.Instant
    /// The source ends after the last event (like the changelog) instead of waiting forever.
    let finite: Bool
    /// Time each event takes to read and handle: events scripted at one instant then arrive
    /// back to back, a stream that never pauses.
    let readCost: Duration

    init(_ script: [(at: Int64, event: SourceEvent)], clock: ManualClock, trace: Trace, finite: Bool = false, readCost: Duration = .zero) {
        self.script = script
        self.readCost = readCost
        self.clock = clock
        self.trace = trace
        self.start = clock.now
        self.finite = finite
    }

    var remaining: Int { script.count - index }

    func next(timeout: Duration) throws(PipelineError) -> SourceEvent? {
        guard index < script.count else {
            clock.advance(by: timeout)
            return nil
        }
        let due = start.advanced(by: .milliseconds(script[index].at))
        guard due <= clock.now.advanced(by: timeout) else {
            clock.advance(by: timeout)
            return nil
        }
        clock.advance(to: due)
        clock.advance(by: readCost)
        defer { index += 1 }
        return script[index].event
    }

    var isExhausted: Bool { finite && index == script.count }
    func acknowledge(durable position: LSN) { trace.record(.acknowledge(position)) }
    func sendAcknowledgements() throws(PipelineError) { trace.record(.sendAcknowledgements) }
}

/// A sink in memory: what is visible to a reader (committed, or appended plainly), what is
/// durable, and the checkpoints, with every call in the trace.
final class MemorySink: Sink {
    var transactional = true
    let trace: Trace
    private(set) var buffered: [(record: PendingRecord, commit: SourceCommit)] = []
    private(set) var openTransaction: [(record: PendingRecord, commit: SourceCommit)] = []
    /// What a read-committed reader sees.
    private(set) var visible: [(record: PendingRecord, commit: SourceCommit)] = []
    private(set) var checkpoints: [Checkpoint] = []
    private(set) var recorded: LSN?
    private(set) var recordsInGroup = 0
    private(set) var groupBytes = 0
    private(set) var highestWritten: LSN?

    init(trace: Trace) { self.trace = trace }

    func prepare(_ event: PipelineEvent) throws(SinkError) -> PendingRecord {
        guard let topic = event.topic else { throw SinkError(.storage, "no topic") }
        guard !topic.contains(" ") else { throw SinkError(.invalidEvent, "invalid topic \"\(topic)\"") }
        return PendingRecord(topicPartition: try! .init(topic: topic, partition: 0), bodyPrefix: (event.key ?? []) + [0] + (event.value ?? []))
    }

    func write(_ record: PendingRecord, commit: SourceCommit) throws(SinkError) {
        trace.record(.write(record.topicPartition.topic))
        buffered.append((record, commit))
        recordsInGroup += 1
        groupBytes += record.bodyPrefix.count
    }

    func writeChangelog(_ change: SourceChange, origin: EventOrigin) throws(SinkError) {}

    func flush() throws(SinkError) {
        guard !buffered.isEmpty else { return }
        trace.record(.flush)
        if transactional { openTransaction += buffered } else { visible += buffered }
        if let highest = buffered.map(\.commit.lsn).max() { highestWritten = max(highestWritten ?? highest, highest) }
        buffered = []
    }

    func commit(_ checkpoint: Checkpoint) throws(SinkError) -> Bool {
        try flush()
        endGroup()
        guard !openTransaction.isEmpty else { return false }
        trace.record(.commit(checkpoint.sourceEnd))
        visible += openTransaction
        openTransaction = []
        checkpoints.append(checkpoint)
        return true
    }

    func sync(recording position: LSN?) throws(SinkError) {
        trace.record(.sync(position))
        if let position { recorded = position }
    }

    func endGroup() {
        recordsInGroup = 0
        groupBytes = 0
    }

    func abort() throws(SinkError) {
        trace.record(.abort)
        buffered = []
        openTransaction = []
        endGroup()
    }

    func lastCheckpoint() throws(SinkError) -> Checkpoint? { checkpoints.last }
    func checkpointHistory() throws(SinkError) -> [Checkpoint] { checkpoints }
    func recordedPosition() throws(SinkError) -> LSN? { recorded }
    func highestSourcePosition() throws(SinkError) -> LSN? { highestWritten }

    var visibleKeys: [String] { visible.map { String(decoding: $0.record.bodyPrefix.prefix { $0 != 0 }, as: UTF8.self) } }
}

/// Outbox transactions for scripts: one insert each into `public.outbox`.
enum OutboxScript {
    static let relation = PGOutputMessage.Relation(
        relationID: 7, namespace: "public", name: "outbox", replicaIdentity: .default,
        columns: [
            .init(flags: .key, name: "id", typeOID: 2950), .init(name: "aggregatetype", typeOID: 25),
            .init(name: "aggregateid", typeOID: 25), .init(name: "type", typeOID: 25), .init(name: "payload", typeOID: 25),
        ])

    static func change(xid: UInt32, sequence: Int = 0, key: String, payload: String = "{}", type: String = "order") -> SourceChange {
        SourceChange(
            operation: .insert, xid: xid, lsn: LSN(UInt64(xid) * 100 + UInt64(sequence)), sequence: sequence, relation: relation,
            newTuple: TupleData([.text(ArraySlice("id-\(xid)-\(sequence)".utf8)), .text(ArraySlice(type.utf8)), .text(ArraySlice(key.utf8)),
                                 .text(ArraySlice("Created".utf8)), .text(ArraySlice(payload.utf8))]))
    }

    /// Transaction `xid` (commit LSN xid×100, end xid×100+50) with one insert per key.
    static func transaction(xid: UInt32, at ms: Int64, keys: [String], payload: String = "{}") -> [(at: Int64, event: SourceEvent)] {
        let commitLSN = LSN(UInt64(xid) * 100)
        let time = PostgresTimestamp(rawValue: Int64(xid) * 1000)
        var events: [(at: Int64, event: SourceEvent)] = [(ms, .begin(TransactionBegin(xid: xid, commitLSN: commitLSN, commitTime: time)))]
        for (sequence, key) in keys.enumerated() { events.append((ms, .change(change(xid: xid, sequence: sequence, key: key, payload: payload)))) }
        events.append((ms, .commit(TransactionCommit(xid: xid, commitLSN: commitLSN, endLSN: end(xid), commitTime: time))))
        return events
    }

    static func end(_ xid: UInt32) -> LSN { LSN(UInt64(xid) * 100 + 50) }

    /// An outbox stage on `table` (Debezium's default topic), then optionally a dedupe of `dedupeKey`.
    static func graph(table: String = "outbox", dedupeKey: String? = nil) throws -> CompiledStageGraph {
        let outbox = OutboxStage(id: "outbox", config: OutboxStageConfig(table: TableName(schema: "public", name: table), topic: try EventTemplate.parse("outbox.event.${aggregatetype}")))
        var stages: [any Stage] = [outbox]
        var wiring = [CompiledStageGraph.Wiring(stageID: "outbox", inputs: [CompiledStageGraph.sourceInput])]
        if let dedupeKey {
            stages.append(DedupeStage(id: "dedupe", key: try EventExpression.parse(dedupeKey), windowMilliseconds: 86_400_000))
            wiring.append(.init(stageID: "dedupe", inputs: ["outbox"]))
        }
        return try CompiledStageGraph(stages: stages, wiring: wiring)
    }
}

/// A runner on a scripted source and a memory sink with a manual clock.
struct ScriptedRun {
    let clock = ManualClock()
    let trace: Trace
    let sink: MemorySink
    var settings = PipelineRunner.Settings(pipelineName: "test", deadLetterTopic: "test.dead-letter")

    init(guarantee: DeliveryGuarantee = .exactlyOnce) {
        trace = Trace(clock: clock)
        sink = MemorySink(trace: trace)
        settings.guarantee = guarantee
    }

    /// Runs the script until the source has handed everything over and `extra` more time has
    /// passed (then stops the way SIGTERM does), or until `stopWhen` says so.
    @discardableResult
    func run(
        _ script: [(at: Int64, event: SourceEvent)], graph: CompiledStageGraph? = nil, extraMilliseconds: Int64 = 1000,
        readCost: Duration = .zero, stopWhen: ((ScriptedSource, PipelineRunner) -> Bool)? = nil
    ) throws -> PipelineRunner {
        let source = ScriptedSource(script, clock: clock, trace: trace, readCost: readCost)
        let runner = try PipelineRunner(graph: try graph ?? OutboxScript.graph(), sink: sink, settings: settings, clock: clock)
        var drainedAt: ContinuousClock.Instant?
        try runner.run(source: source, shouldStop: {
            if let stopWhen { return stopWhen(source, runner) }
            if source.remaining == 0, drainedAt == nil { drainedAt = clock.now }
            return drainedAt.map { clock.now - $0 >= .milliseconds(extraMilliseconds) } ?? false
        })
        return runner
    }
}
