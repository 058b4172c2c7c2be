import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// An outbox-like event: payload fields, a key, a type header.
func orderEvent(amount: String = "120.50", status: String = "paid", region: String = "eu") throws -> PipelineEvent {
    var event = event(1)
    let payload = #"{"amount": \#(amount), "status": "\#(status)", "region": "\#(region)"}"#
    event.fields["payload"] = try EventValue(json: payload)
    event.fields["aggregatetype"] = .string("order")
    event.valueField = "payload"
    event.value = Array(payload.utf8)
    event.topic = "outbox.event.order"
    event.key = Array("o-1".utf8)
    event.setHeader("type", Array("OrderPaid".utf8))
    return event
}

func outputs(of stage: some Stage, _ event: PipelineEvent) throws -> [(PipelineEvent, String?)] {
    var result: [(PipelineEvent, String?)] = []
    try stage.process(event) { result.append(($0, $1)) }
    return result
}

@Suite struct TransformStageTests {
    @Test func filterKeepsWhatItsConditionHoldsFor() throws {
        let stage = FilterStage(id: "f", config: .init(condition: try EventExpression.parse("payload.amount > 100 and headers.type == 'OrderPaid'")))
        #expect(try outputs(of: stage, try orderEvent()).count == 1)
        #expect(try outputs(of: stage, try orderEvent(amount: "99.99")).isEmpty)
        let failing = FilterStage(id: "f", config: .init(condition: try EventExpression.parse("payload.amount / 0 > 1")))
        #expect(throws: StageFailure.self) { try outputs(of: failing, try orderEvent()) }
    }

    @Test func keySetsTheRecordKey() throws {
        let stage = KeyStage(id: "k", config: .init(expression: try EventExpression.parse("concat(payload.region, '-', payload.status)")))
        let output = try #require(try outputs(of: stage, try orderEvent()).first?.0)
        #expect(output.key == Array("eu-paid".utf8))
    }

    @Test func routeByTemplateTableAndOutputs() throws {
        let template = RouteStage(id: "r", config: .init(routing: .template(try EventTemplate.parse("orders.${payload.region}"))))
        #expect(try outputs(of: template, try orderEvent()).first?.0.topic == "orders.eu")

        let table = RouteStage(id: "r", config: .init(
            routing: .table(by: try EventExpression.parse("payload.region"), topics: [.init(value: "eu", topic: "orders-europe")]),
            unmatched: .deadLetter))
        #expect(try outputs(of: table, try orderEvent()).first?.0.topic == "orders-europe")
        #expect(throws: StageFailure.self) { try outputs(of: table, try orderEvent(region: "us")) }
        let dropping = RouteStage(id: "r", config: .init(routing: .table(by: try EventExpression.parse("payload.region"), topics: []), unmatched: .drop))
        #expect(try outputs(of: dropping, try orderEvent()).isEmpty)
        let failing = RouteStage(id: "r", config: .init(routing: .table(by: try EventExpression.parse("payload.region"), topics: []), unmatched: .fail))
        let failure = #expect(throws: StageFailure.self) { try outputs(of: failing, try orderEvent()) }
        #expect(failure?.stopsPipeline == true)

        let named = RouteStage(id: "r", config: .init(routing: .outputs([
            .init(name: "big", condition: try EventExpression.parse("payload.amount >= 100")),
            .init(name: "eu", condition: try EventExpression.parse("payload.region == 'eu'")),
        ])))
        #expect(try outputs(of: named, try orderEvent()).map(\.1) == ["big", "eu"])
    }

    @Test func mapSetsRenamesAndDropsAndRewritesTheValue() throws {
        let stage = MapStage(id: "m", config: .init(
            rename: [.init(from: .field(FieldPath(names: "payload", "status")), to: .field(FieldPath(names: "payload", "state")))],
            set: [
                .init(target: .field(FieldPath(names: "payload", "source")), value: try EventExpression.parse("'outflow'")),
                .init(target: .field(FieldPath(names: "headers", "region")), value: try EventExpression.parse("upper(payload.region)")),
                .init(target: .metadata(.topic), value: try EventExpression.parse("concat('orders.', payload.region)")),
            ],
            drop: [.field(FieldPath(names: "payload", "region"))]))
        let output = try #require(try outputs(of: stage, try orderEvent()).first?.0)
        #expect(output.topic == "orders.eu")
        #expect(output.header("region") == Array("EU".utf8))
        let value = try EventValue(json: String(decoding: try #require(output.value), as: UTF8.self))
        #expect(value == .object(["amount": .decimal(Decimal(string: "120.50")!), "state": .string("paid"), "source": .string("outflow")]))
    }

    @Test func orderStopsOnAnEventOutOfOrder() throws {
        let stage = OrderStage(id: "o", config: .init(mode: .total))
        #expect(try outputs(of: stage, event(1)).count == 1)
        #expect(try outputs(of: stage, event(1)).count == 1)  // a fan-in copy: same position
        #expect(try outputs(of: stage, event(2)).count == 1)
        let failure = #expect(throws: StageFailure.self) { try outputs(of: stage, event(0)) }
        #expect(failure?.stopsPipeline == true)
    }
}
