import PGOutput
import Pipeline
import PostgresSource
import Testing

/// The outbox stage renders a topic template made of plain columns from the row's bytes; the
/// template's own rendering on the event's fields is the oracle it must agree with.
@Suite struct OutboxStageTests {
    let relation = PGOutputMessage.Relation(
        relationID: 7, namespace: "public", name: "outbox", replicaIdentity: .default,
        columns: [
            .init(flags: .key, name: "id", typeOID: 2950), .init(name: "aggregatetype", typeOID: 25),
            .init(name: "aggregateid", typeOID: 25), .init(name: "type", typeOID: 25), .init(name: "payload", typeOID: 3802),
            .init(name: "region", typeOID: 25),
        ])

    func change(type: String?, region: String? = "eu", sequence: Int) -> PipelineEvent {
        func text(_ value: String?) -> TupleColumn { value.map { .text(ArraySlice($0.utf8)) } ?? .null }
        let change = SourceChange(
            operation: .insert, xid: 9, lsn: LSN(UInt64(100 + sequence)), sequence: sequence, relation: relation,
            newTuple: TupleData([text("id-\(sequence)"), text(type), text("a-1"), text("Created"), text(#"{"n": 1}"#), text(region)]))
        return PipelineEvent(origin: EventOrigin(
            commitLSN: LSN(1000), xid: 9, commitTime: PostgresTimestamp(rawValue: 0), table: TableName(schema: "public", name: "outbox"),
            operation: .insert, sequence: sequence), change: change)
    }

    func topics(_ template: String, _ types: [String?]) throws -> [Result<String, StageFailure>] {
        let stage = OutboxStage(id: "outbox", config: OutboxStageConfig(
            table: TableName(schema: "public", name: "outbox"), topic: try EventTemplate.parse(template)))
        return types.enumerated().map { index, type in
            var topic: String?
            do throws(StageFailure) {
                try stage.process(change(type: type, sequence: index)) { output, _ in
                    // The oracle: the template on the output's fields, every column a field.
                    var fields = output
                    fields.materializeRowFields()
                    #expect(output.topic == (try? EventTemplate.parse(template).render(on: fields)))
                    topic = output.topic
                }
            } catch {
                return .failure(error)
            }
            return .success(topic ?? "")
        }
    }

    @Test(arguments: ["outbox.event.${aggregatetype}", "${region}-${aggregatetype}.${aggregatetype}!", "${aggregatetype}", "fixed"])
    func plainColumnTemplatesAgreeWithTheTemplate(template: String) throws {
        let types: [String?] = ["order", "order", "customer", "order", "ordér", "orders", "order", ""]
        let results = try topics(template, types)
        for (result, type) in zip(results, types) {
            let expected = try EventTemplate.parse(template).parts.map { part -> String in
                switch part {
                case .literal(let text): return text
                case .expression(let expression): return expression.source == "region" ? "eu" : type ?? ""
                }
            }.joined()
            #expect((try? result.get()) == expected)
        }
    }

    @Test func aNullColumnFailsAsTheTemplateDoes() throws {
        let results = try topics("outbox.event.${aggregatetype}", ["order", nil, "order"])
        #expect((try? results[0].get()) == "outbox.event.order")
        guard case .failure(let failure) = results[1] else { Issue.record("a NULL aggregate type rendered a topic"); return }
        #expect(failure.message.contains("is null"))
        #expect((try? results[2].get()) == "outbox.event.order")
    }

    @Test func otherTemplatesStillRender() throws {
        let results = try topics("t.${lower(aggregatetype)}.${payload.n}", ["Order", "CUSTOMER"])
        #expect(results.map { try? $0.get() } == ["t.order.1", "t.customer.1"])
    }
}
