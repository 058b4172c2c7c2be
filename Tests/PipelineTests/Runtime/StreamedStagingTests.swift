import PostgresSource
@testable import Pipeline
import Testing

/// Which pipelines run a streamed transaction's changes through the stages before it commits:
/// those whose stages keep no state and never read the commit position.
@Suite struct StreamedStagingTests {
    func expression(_ text: String) throws -> EventExpression { try EventExpression.parse(text) }

    @Test func aStageReadsTheCommitPositionOnlyThroughLsnOrCommitTimestamp() throws {
        let table = TableName(schema: "public", name: "outbox")
        let reading: [any Stage] = [
            FilterStage(id: "f", config: FilterStageConfig(condition: try expression("__lsn != '0/0'"))),
            KeyStage(id: "k", config: KeyStageConfig(expression: try expression("concat(__commit_ts, id)"))),
            MapStage(id: "m1", config: MapStageConfig(set: [.init(target: .field(FieldPath(names: "headers", "at")), value: try expression("__commit_ts"))])),
            MapStage(id: "m2", config: MapStageConfig(rename: [.init(from: .metadata(.lsn), to: .field(FieldPath(names: "headers", "lsn")))])),
            RouteStage(id: "r1", config: RouteStageConfig(routing: .template(try EventTemplate.parse("t.${__lsn}")))),
            RouteStage(id: "r2", config: RouteStageConfig(routing: .outputs([.init(name: "a", condition: try expression("id == 1")), .init(name: "b", condition: try expression("__lsn == '0/1'"))]))),
            OutboxStage(id: "o", config: OutboxStageConfig(table: table, topic: try EventTemplate.parse("x.${__commit_ts}"))),
            OrderStage(id: "order", config: OrderStageConfig()),
        ]
        let notReading: [any Stage] = [
            FilterStage(id: "f", config: FilterStageConfig(condition: try expression("__xid > 0 and __table == 'public.t' and __op == 'insert'"))),
            KeyStage(id: "k", config: KeyStageConfig(expression: try expression("aggregateid"))),
            MapStage(id: "m", config: MapStageConfig(rename: [.init(from: .field(FieldPath(names: "a")), to: .metadata(.key))], set: [.init(target: .metadata(.topic), value: try expression("lower(__table)"))])),
            RouteStage(id: "r", config: RouteStageConfig(routing: .table(by: try expression("__key"), topics: [.init(value: "a", topic: "b")]))),
            OutboxStage(id: "o", config: OutboxStageConfig(table: table, topic: try EventTemplate.parse("outbox.event.${aggregatetype}"))),
            BatchStage(id: "b", config: BatchStageConfig()),
        ]
        for stage in reading { #expect(stage.readsCommitPosition, "\(stage.id)") }
        for stage in notReading { #expect(!stage.readsCommitPosition, "\(stage.id)") }
    }

    @Test func theReasonToStageAtCommitNamesTheStageOrTheChangelog() throws {
        func graph(_ stages: [any Stage]) throws -> CompiledStageGraph {
            var previous = CompiledStageGraph.sourceInput
            var wiring: [CompiledStageGraph.Wiring] = []
            for stage in stages {
                wiring.append(.init(stageID: stage.id, inputs: [previous]))
                previous = stage.id
            }
            return try CompiledStageGraph(stages: stages, wiring: wiring)
        }
        let outbox = OutboxStage(id: "outbox", config: OutboxStageConfig(table: TableName(schema: "public", name: "outbox"), topic: try EventTemplate.parse("e.${aggregatetype}")))
        #expect(PipelineRunner.reasonToStageAtCommit(graph: try graph([outbox]), changelog: false) == nil)
        #expect(PipelineRunner.reasonToStageAtCommit(graph: try graph([outbox]), changelog: true)?.contains("changelog") == true)
        let dedupe = DedupeStage(id: "dd", key: try expression("id"), windowMilliseconds: 1000)
        #expect(PipelineRunner.reasonToStageAtCommit(graph: try graph([outbox, dedupe]), changelog: false)?.contains("stage dd keeps state") == true)
        let filter = FilterStage(id: "late", config: FilterStageConfig(condition: try expression("__commit_ts > '2026'")))
        #expect(PipelineRunner.reasonToStageAtCommit(graph: try graph([outbox, filter]), changelog: false)?.contains("stage late reads the commit position") == true)
    }
}
