import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

@Suite struct PipelineRunnerTests {
    @Test func outboxRowsLandInTheirTopicsPartitionsAndOrderExactlyOnce() throws {
        let harness = try OutboxHarness()
        try harness.sql.execute("BEGIN; " + harness.insert(key: "o-1", eventType: "OrderCreated", payload: #"{"total": 10.50}"#)
            + harness.insert(key: "o-1", eventType: "OrderPaid", payload: #"{"paid": true}"#) + "COMMIT;")
        try harness.sql.execute("BEGIN; " + harness.insert(key: "o-2", eventType: "OrderCreated") + "ROLLBACK;")
        try harness.sql.execute(harness.insert(type: "customer", key: "c-7", eventType: "CustomerMoved", payload: nil))
        let lastID = UUID().uuidString.lowercased()
        try harness.sql.execute(harness.insert(id: lastID, key: "o-1", eventType: "OrderShipped"))
        let progress = try harness.run(untilTransactions: 3)
        #expect(progress.sourceTransactions == 3)
        #expect(progress.records == 4)

        let records = try harness.committedRecords()
        let orders = records.filter { $0.key.topic == "outbox.event.order" }
        #expect(orders.count == 1, "one aggregate, one partition: \(orders.keys)")
        let orderPartition = try #require(orders.first)
        #expect(Int(orderPartition.key.partition) == KafkaPartitioner.partition(forKey: Array("o-1".utf8), partitionCount: 3))
        #expect(orderPartition.value.map(\.keyText) == ["o-1", "o-1", "o-1"])
        #expect(orderPartition.value.map { $0.headerText("type") } == ["OrderCreated", "OrderPaid", "OrderShipped"])
        #expect(orderPartition.value.first?.valueText == #"{"total": 10.50}"#)
        #expect(orderPartition.value.last?.headerText("id") == lastID)
        let lsns = orderPartition.value.compactMap { $0.headerText("outflow.lsn").flatMap { LSN($0) } }
        #expect(lsns.count == 3 && lsns[0] == lsns[1] && lsns[1] < lsns[2])
        #expect(orderPartition.value.allSatisfy { $0.headerText("outflow.xid") != nil })

        let customers = records.filter { $0.key.topic == "outbox.event.customer" }.flatMap(\.value)
        #expect(customers.count == 1)
        #expect(customers.first?.value == nil)  // NULL payload: a tombstone
        #expect(!records.values.joined().contains { $0.keyText == "o-2" })

        // Postgres was told the last transaction's end, and only once it was durable.
        let confirmed = try #require(try harness.confirmedFlush())
        #expect(confirmed > lsns[2])
    }

    @Test func aRestartResumesWithoutLossOrDuplicates() throws {
        let harness = try OutboxHarness()
        for index in 0..<5 { try harness.sql.execute(harness.insert(key: "k-\(index)")) }
        try harness.run(untilTransactions: 5)
        for index in 5..<8 { try harness.sql.execute(harness.insert(key: "k-\(index)")) }
        let second = try harness.run(untilTransactions: 3)
        #expect(second.sourceTransactions == 3)
        let keys = try harness.committedRecords().values.joined().compactMap(\.keyText).sorted()
        #expect(keys == (0..<8).map { "k-\($0)" }.sorted())
    }

    @Test func dedupeDropsARepeatedEventIDWithinTheWindow() throws {
        let harness = try OutboxHarness()
        let id = UUID().uuidString.lowercased()
        try harness.sql.execute(harness.insert(id: id, key: "d-1"))
        try harness.sql.execute("DELETE FROM \(harness.table) WHERE id = '\(id)'")  // cleanup delete: not published
        try harness.sql.execute(harness.insert(id: id, key: "d-1"))
        try harness.sql.execute(harness.insert(key: "d-2"))
        let progress = try harness.run(untilTransactions: 3)
        #expect(progress.records == 2)
        let keys = try harness.committedRecords().values.joined().compactMap(\.keyText).sorted()
        #expect(keys == ["d-1", "d-2"])
    }

    @Test func aMalformedEventGoesToTheDeadLetterTopic() throws {
        let harness = try OutboxHarness()
        try harness.sql.execute("ALTER TABLE \(harness.table) ALTER COLUMN payload TYPE text")
        try harness.sql.execute(harness.insert(key: "bad", payload: "not json"))
        try harness.sql.execute(harness.insert(key: "good", payload: #"{"a": 1}"#))
        let progress = try harness.run(untilTransactions: 2)
        #expect(progress.deadLetters == 1)
        let records = try harness.committedRecords()
        let letters = records.filter { $0.key.topic == "test.dead-letter" }.flatMap(\.value)
        #expect(letters.count == 1)
        #expect(letters.first?.headerText("outflow.stage") == "outbox")
        #expect(letters.first?.headerText("outflow.error")?.contains("not JSON") == true)
        #expect(letters.first?.headerText("outflow.lsn") != nil)
        #expect(records.filter { $0.key.topic == "outbox.event.order" }.flatMap(\.value).map(\.keyText) == ["good"])
    }
}

@Suite struct PipelineRestartTests {
    @Test func dedupeStateSurvivesARestart() throws {
        let harness = try OutboxHarness()
        let id = UUID().uuidString.lowercased()
        try harness.sql.execute(harness.insert(id: id, key: "r-1"))
        try harness.run(untilTransactions: 1)
        // The same event id again, after the pipeline restarted: still inside the window.
        try harness.sql.execute("DELETE FROM \(harness.table) WHERE id = '\(id)'")
        try harness.sql.execute(harness.insert(id: id, key: "r-1"))
        try harness.sql.execute(harness.insert(key: "r-2"))
        let second = try harness.run(untilTransactions: 2)
        #expect(second.records == 1)
        let keys = try harness.committedRecords().values.joined().compactMap(\.keyText).sorted()
        #expect(keys == ["r-1", "r-2"])
    }

    /// A dedupe whose state is mostly on disk (1 MiB of memory: the newest bucket is sealed at
    /// 49152 keys) keeps deduplicating across restarts: one large transaction, then repeats of
    /// its ids and of later ones in the next runs.
    @Test func dedupeWithItsStateOnDiskKeepsDeduplicatingAcrossRestarts() throws {
        let harness = try OutboxHarness()
        func graph() throws -> CompiledStageGraph {
            let outbox = OutboxStage(
                id: "outbox",
                config: OutboxStageConfig(table: TableName(schema: "public", name: harness.table), topic: try EventTemplate.parse("outbox.event.${aggregatetype}")))
            let dedupe = DedupeStage(
                id: "dedupe", config: DedupeStageConfig(key: try EventExpression.parse("id"), memory: ByteSize("1MiB")!))
            return try CompiledStageGraph(
                stages: [outbox, dedupe],
                wiring: [.init(stageID: "outbox", inputs: [CompiledStageGraph.sourceInput]), .init(stageID: "dedupe", inputs: ["outbox"])])
        }
        let large = 60_000
        // Ids are uuids made from a number, so a later transaction can repeat them.
        func id(_ number: Int) -> String { String(format: "00000000-0000-0000-0000-%012d", number) }
        func insert(_ numbers: [Int], key: String) -> String {
            "INSERT INTO \(harness.table) (id, aggregatetype, aggregateid, type, payload) SELECT v::uuid, 'order', '\(key)', 'Created', '{}' FROM unnest(ARRAY[\(numbers.map { "'\(id($0))'" }.joined(separator: ","))]) v;"
        }
        try harness.sql.execute("""
            INSERT INTO \(harness.table) (id, aggregatetype, aggregateid, type, payload)
            SELECT ('00000000-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid, 'order', 'large', 'Created', '{}' FROM generate_series(0, \(large - 1)) n;
            """)
        try harness.run(untilTransactions: 1, graph: graph())
        let stateFiles = try FileManager.default.contentsOfDirectory(atPath: harness.logDirectory + "/__stage_state/dedupe")
        #expect(stateFiles.contains { $0.hasSuffix(".ddb") }, "the large transaction spilled into sealed buckets: \(stateFiles)")

        // Repeats of the oldest (on disk) and newest (journal) ids, and new ones; the table is
        // emptied first so that the same ids can be inserted again.
        try harness.sql.execute("TRUNCATE \(harness.table)")
        try harness.sql.execute(insert([0, 1, 7, 30_000, large - 1, large, large + 1], key: "second"))
        let second = try harness.run(untilTransactions: 1, graph: graph())
        #expect(second.records == 2)
        try harness.sql.execute("TRUNCATE \(harness.table)")
        try harness.sql.execute(insert([2, 50_000, large, large + 1, large + 2], key: "third"))
        let third = try harness.run(untilTransactions: 1, graph: graph())
        #expect(third.records == 1)

        var seen: [String: Int] = [:]
        for record in try harness.committedRecords().values.joined() { seen[record.keyText ?? "", default: 0] += 1 }
        #expect(seen == ["large": large, "second": 2, "third": 1])
    }
}
