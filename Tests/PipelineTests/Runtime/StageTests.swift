import Foundation
import PGOutput
import Pipeline
import PostgresSource
import Testing

/// A stage that records what it saw and passes it on, optionally on a port.
final class Probe: Stage {
    let id: String
    let port: String?
    var seen: [Int] = []
    init(_ id: String, port: String? = nil) { self.id = id; self.port = port }
    func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        seen.append(event.origin.sequence)
        if event.origin.sequence < 0 { throw StageFailure(stageID: id, message: "negative") }
        emit(event, port)
    }
}

func event(_ sequence: Int, id: String? = nil, commitMilliseconds: Int64 = 0) -> PipelineEvent {
    var event = PipelineEvent(origin: EventOrigin(
        commitLSN: LSN(UInt64(max(sequence, 0) + 1)), xid: 1, commitTime: PostgresTimestamp(unixMicroseconds: commitMilliseconds * 1000),
        table: TableName(schema: "public", name: "t"), operation: .insert, sequence: sequence))
    if let id { event.fields["id"] = .string(id) }
    return event
}

@Suite struct CompiledStageGraphTests {
    @Test func fanOutCopiesAndFanInReceivesEachCopyInSourceOrder() throws {
        let a = Probe("a"), left = Probe("left"), right = Probe("right"), join = Probe("join")
        let graph = try CompiledStageGraph(stages: [a, left, right, join], wiring: [
            .init(stageID: "a", inputs: ["source"]), .init(stageID: "left", inputs: ["a"]),
            .init(stageID: "right", inputs: ["a"]), .init(stageID: "join", inputs: ["left", "right"]),
        ])
        var out: [Int] = []
        for sequence in 0..<3 { graph.run(event(sequence), sink: { out.append($0.origin.sequence) }, failed: { _, _ in Issue.record("no failure") }) }
        #expect(a.seen == [0, 1, 2] && left.seen == [0, 1, 2] && right.seen == [0, 1, 2])
        #expect(join.seen == [0, 0, 1, 1, 2, 2])
        #expect(out == [0, 0, 1, 1, 2, 2])
    }

    @Test func namedPortsAndFailures() throws {
        let router = Probe("route", port: "eu"), eu = Probe("eu")
        let graph = try CompiledStageGraph(stages: [router, eu], wiring: [.init(stageID: "route", inputs: ["source"]), .init(stageID: "eu", inputs: ["route.eu"])])
        var out: [Int] = [], failures: [String] = []
        graph.run(event(4), sink: { out.append($0.origin.sequence) }, failed: { _, failure in failures.append(failure.stageID) })
        graph.run(event(-1), sink: { out.append($0.origin.sequence) }, failed: { _, failure in failures.append(failure.stageID) })
        #expect(eu.seen == [4] && out == [4] && failures == ["route"])
        #expect(throws: StageFailure.self) { try CompiledStageGraph(stages: [router], wiring: [.init(stageID: "route", inputs: ["nope"])]) }
    }

    @Test func withoutStagesEventsGoStraightToTheSink() throws {
        let graph = try CompiledStageGraph(stages: [], wiring: [])
        var out = 0
        graph.run(event(1), sink: { _ in out += 1 }, failed: { _, _ in })
        #expect(out == 1)
    }
}

@Suite struct DedupeStageTests {
    func run(_ stage: DedupeStage, _ id: String, at milliseconds: Int64, commit: Bool = true) throws -> Bool {
        var passed = false
        try stage.process(event(0, id: id, commitMilliseconds: milliseconds)) { _, _ in passed = true }
        if commit { stage.didCommit(recorded: true) }
        return passed
    }

    @Test func dropsRepeatsInsideTheWindowAndPassesThemAfter() throws {
        let stage = DedupeStage(id: "d", key: try EventExpression.parse("id"), windowMilliseconds: 1000)
        #expect(try run(stage, "a", at: 0))
        #expect(try !run(stage, "a", at: 999))
        #expect(try run(stage, "b", at: 1500))
        #expect(try run(stage, "a", at: 1001))  // a's window has passed
        #expect(stage.duplicatesDropped == 1)
    }

    @Test func abortForgetsAndCommittedChangesRestore() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dedupe-stage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stage = DedupeStage(id: "d", key: try EventExpression.parse("id"), windowMilliseconds: 60_000)
        try stage.openState(directory: directory, committed: [])
        #expect(try stage.pendingChanges() == nil)  // nothing to name yet
        #expect(try run(stage, "a", at: 10, commit: false))
        #expect(try !run(stage, "a", at: 11, commit: false))  // a repeat inside the open transaction
        let committed = try #require(try stage.pendingChanges())
        stage.didCommit(recorded: true)
        #expect(try run(stage, "b", at: 20, commit: false))
        try stage.didAbort()
        #expect(try run(stage, "b", at: 20, commit: false))  // b's addition was rolled back with its log transaction
        #expect(try !run(stage, "a", at: 30, commit: false))
        try stage.didAbort()

        let restored = DedupeStage(id: "d", key: try EventExpression.parse("id"), windowMilliseconds: 60_000)
        try restored.openState(directory: directory, committed: [committed])
        #expect(try !run(restored, "a", at: 40))
        #expect(try run(restored, "b", at: 40))
        #expect(try run(restored, "c", at: 40))
        let damaged = DedupeStage(id: "d", key: try EventExpression.parse("id"), windowMilliseconds: 60_000)
        #expect(throws: StageFailure.self) { try damaged.openState(directory: directory, committed: [[0, 0, 0, 9, 1]]) }
    }

    @Test func restoresTheEarlierCommitRecordFormat() throws {
        // Before the state had files, each commit record carried the keys it added in full.
        func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        var earlier = bigEndian(UInt32(2))
        for (key, time) in [("a", Int64(10)), ("b", Int64(20))] {
            earlier += bigEndian(time) + bigEndian(UInt32(key.utf8.count)) + Array(key.utf8)
        }
        let stage = DedupeStage(id: "d", key: try EventExpression.parse("id"), windowMilliseconds: 60_000)
        try stage.openState(directory: nil, committed: [earlier])
        #expect(try !run(stage, "a", at: 30))
        #expect(try !run(stage, "b", at: 30))
        #expect(try run(stage, "c", at: 30))
        // The next commit names the state instead.
        #expect(try stage.pendingChanges().map { Array($0.prefix(3)) } == Array("ODS".utf8))
    }

    @Test func bloomModeDropsRepeatsAndKeepsItsStatedFalsePositiveRate() throws {
        let entries = 5000
        let config = DedupeStageConfig(key: try EventExpression.parse("id"), window: ConfigDuration("1h")!, maxEntries: entries, mode: .bloom, falsePositiveRate: 0.01)
        let stage = DedupeStage(id: "d", config: config)
        // A Bloom filter may take a new key for a seen one, at the stated rate at most.
        var passedFirstTime = 0
        for index in 0..<entries where try run(stage, "seen-\(index)", at: 1000) { passedFirstTime += 1 }
        #expect(Double(entries - passedFirstTime) / Double(entries) <= 0.01)
        // It never passes a key it has seen.
        for index in stride(from: 0, to: entries, by: 7) { #expect(try !run(stage, "seen-\(index)", at: 2000)) }
        var falsePositives = 0
        for index in 0..<entries where try !run(stage, "new-\(index)", at: 3000, commit: false) { falsePositives += 1 }
        try stage.didAbort()
        #expect(Double(falsePositives) / Double(entries) <= 0.01, "\(falsePositives) false positives")
        // After the window (plus at most one slice), everything is forgotten.
        #expect(try run(stage, "seen-1", at: 1000 + 3_600_000 + 900_001))
    }

    @Test func boundedByMaximumEntries() throws {
        let stage = DedupeStage(id: "d", key: try EventExpression.parse("id"), windowMilliseconds: 60_000, maximumEntries: 2)
        for id in ["a", "b", "c"] { #expect(try run(stage, id, at: 0)) }
        #expect(stage.entryCount == 2)
        #expect(stage.forgottenKeys == 1)
        #expect(try run(stage, "a", at: 0))  // the oldest was forgotten
    }
}

@Suite struct CheckpointTests {
    @Test func roundTripsAndRejectsDamage() throws {
        let checkpoint = Checkpoint(sourceEnd: LSN("1/2A")!, stageChanges: ["dedupe": [1, 2, 3], "other": []])
        let bytes = checkpoint.encoded()
        #expect(try Checkpoint(decoding: bytes) == checkpoint)
        for cut in 0..<bytes.count {
            #expect(throws: CheckpointError.self) { try Checkpoint(decoding: Array(bytes[0..<cut])) }
        }
        #expect(throws: CheckpointError.self) { try Checkpoint(decoding: bytes + [0]) }
    }
}

@Suite struct PipelineEventTests {
    @Test func metadataForExpressions() throws {
        var sample = event(3, commitMilliseconds: 1_700_000_000_123)  // 2023-11-14T22:13:20.123Z
        sample.topic = "t"
        #expect(sample.metadata(.commitTimestamp) == .string("2023-11-14T22:13:20.123Z"))
        #expect(sample.metadata(.lsn) == .string("0/4"))
        #expect(sample.metadata(.op) == .string("insert"))
        #expect(sample.metadata(.table) == .string("public.t"))
        #expect(sample.metadata(.topic) == .string("t"))
        #expect(sample.metadata(.key) == .null)
        #expect(try EventExpression.parse("__xid == 1 and __lsn == '0/4'").isSatisfied(by: sample))
    }
}
