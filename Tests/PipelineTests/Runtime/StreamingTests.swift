import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// Large transactions streamed while still open (pgoutput `streaming 'on'`).
@Suite struct StreamingTests {
    /// Both ways a streamed transaction is staged: its changes spooled and run through the
    /// stages at its commit (a stateful stage, dedupe, forces that), or run through them as
    /// they arrive with the records spooled and completed at the commit.
    @Test(arguments: [false, true])
    func aStreamedTransactionReachesTheLogWholeInCommitOrderWithoutItsRolledBackSavepoint(stagedWhileStreaming: Bool) throws {
        let harness = try OutboxHarness()
        let big = """
            BEGIN;
            INSERT INTO \(harness.table) SELECT gen_random_uuid(), 'order', 'big', 'Row', jsonb_build_object('i', i, 'pad', repeat('x', 200)) FROM generate_series(1, 2000) i;
            SAVEPOINT s;
            INSERT INTO \(harness.table) SELECT gen_random_uuid(), 'order', 'rolled-back', 'Row', jsonb_build_object('i', i, 'pad', repeat('x', 200)) FROM generate_series(1, 1000) i;
            ROLLBACK TO SAVEPOINT s;
            INSERT INTO \(harness.table) SELECT gen_random_uuid(), 'order', 'big', 'Row', jsonb_build_object('i', i, 'pad', repeat('x', 200)) FROM generate_series(2001, 2500) i;
            COMMIT;
            """
        try harness.sql.execute(harness.insert(key: "small-before"))
        try harness.sql.execute(big)
        try harness.sql.execute(harness.insert(key: "small-after"))
        let progress = try harness.run(
            untilTransactions: 3, streaming: true, graph: try harness.stages(dedupe: !stagedWhileStreaming),
            expectStagingWhileStreaming: stagedWhileStreaming, until: { $0.records >= 2502 })
        #expect(progress.streamedTransactions >= 1)  // the big one came through the stream
        #expect(progress.events == 2502)  // not the rolled-back savepoint's
        #expect(progress.records == 2502)

        let records = try harness.committedRecords().filter { $0.key.topic == "outbox.event.order" }.flatMap(\.value)
        let keys = records.compactMap(\.keyText)
        #expect(keys.filter { $0 == "big" }.count == 2500)
        #expect(!keys.contains("rolled-back"))
        #expect(keys.contains("small-before") && keys.contains("small-after"))
        // One aggregate, one partition: its 2500 rows in statement order.
        let order = records.filter { $0.keyText == "big" }.compactMap { record -> Int? in
            guard let value = record.value, case .object(let payload) = try? EventValue(json: String(decoding: value, as: UTF8.self)),
                  case .int(let index)? = payload["i"] else { return nil }
            return Int(index)
        }
        #expect(order == Array(1...2500))
        // Commit order across transactions: the LSNs never go down within a partition.
        for (_, partition) in try harness.committedRecords() where !partition.isEmpty {
            let lsns = partition.compactMap { $0.headerText("outflow.lsn").flatMap { LSN($0) } }
            #expect(lsns == lsns.sorted())
        }
        // Every record of the big transaction carries its commit: one LSN between the small
        // transactions' and one commit time, now-ish.
        func position(_ key: String) -> Set<String> {
            Set(records.filter { $0.keyText == key }.map { "\($0.headerText("outflow.lsn") ?? "-") \($0.timestamp)" })
        }
        let bigPositions = position("big")
        #expect(bigPositions.count == 1)
        let parts = try #require(bigPositions.first).split(separator: " ")
        let bigLSN = try #require(LSN(parts[0]))
        let bigTime = try #require(Int64(parts[1]))
        let before = try #require(records.first { $0.keyText == "small-before" }?.headerText("outflow.lsn").flatMap { LSN($0) })
        let after = try #require(records.first { $0.keyText == "small-after" }?.headerText("outflow.lsn").flatMap { LSN($0) })
        #expect(before < bigLSN && bigLSN < after)
        #expect(abs(Int64(Date().timeIntervalSince1970 * 1000) - bigTime) < 600_000)
    }

    /// outbox → route by key, unmatched keys failing the pipeline or going to the dead letters.
    func routed(_ harness: OutboxHarness, unmatched: RouteStageConfig.Unmatched) throws -> CompiledStageGraph {
        let outbox = OutboxStage(
            id: "outbox", config: OutboxStageConfig(table: TableName(schema: "public", name: harness.table), topic: try EventTemplate.parse("outbox.event.${aggregatetype}")))
        let route = RouteStage(
            id: "route",
            config: RouteStageConfig(
                routing: .table(by: try EventExpression.parse("__key"), topics: [.init(value: "good", topic: "routed.good")]), unmatched: unmatched))
        return try CompiledStageGraph(
            stages: [outbox, route], wiring: [.init(stageID: "outbox", inputs: [CompiledStageGraph.sourceInput]), .init(stageID: "route", inputs: ["outbox"])])
    }

    func rows(_ harness: OutboxHarness, key: String, _ range: ClosedRange<Int>) -> String {
        "INSERT INTO \(harness.table) SELECT gen_random_uuid(), 'order', '\(key)', 'Row', jsonb_build_object('i', i, 'pad', repeat('x', 200)) FROM generate_series(\(range.lowerBound), \(range.upperBound)) i;"
    }

    /// A failure that stops the pipeline, met while a transaction streams, counts only if the
    /// transaction commits with it: not when the transaction or its savepoint rolls back.
    @Test func aFailureInAStreamedTransactionStopsThePipelineOnlyIfItCommits() throws {
        let harness = try OutboxHarness()
        try harness.sql.execute("BEGIN; \(rows(harness, key: "good", 1...500)) \(rows(harness, key: "bad", 1...1000)) ROLLBACK;")
        try harness.sql.execute("BEGIN; \(rows(harness, key: "good", 1...500)) SAVEPOINT s; \(rows(harness, key: "bad", 1...1000)) ROLLBACK TO SAVEPOINT s; \(rows(harness, key: "good", 501...1000)) COMMIT;")
        let progress = try harness.run(
            untilTransactions: 1, streaming: true, graph: try routed(harness, unmatched: .fail), expectStagingWhileStreaming: true,
            until: { $0.records >= 1000 })
        #expect(progress.records == 1000)
        #expect(try harness.committedRecords().values.flatMap { $0 }.filter { $0.keyText == "good" }.count == 1000)

        try harness.sql.execute("BEGIN; \(rows(harness, key: "good", 1...500)) \(rows(harness, key: "bad", 1...1000)) COMMIT;")
        let error = try #require(throws: PipelineError.self) {
            // Runs until the failure stops it (or 30 s pass).
            try harness.run(
                untilTransactions: 1, streaming: true, graph: try routed(harness, unmatched: .fail), expectStagingWhileStreaming: true,
                until: { _ in false })
        }
        #expect(error.message.contains("stage route failed on the event of public.\(harness.table) at "))
        #expect(error.message.contains("no route matched (unmatched: fail)"))
        #expect(!error.message.contains("not yet committed"))
        // Nothing of the failed transaction reached the log.
        #expect(try harness.committedRecords().values.flatMap { $0 }.count == 1000)
    }

    /// Dead letters of a streamed transaction carry its commit position like its records.
    @Test func deadLettersOfAStreamedTransactionCarryItsCommit() throws {
        let harness = try OutboxHarness()
        try harness.sql.execute("BEGIN; \(rows(harness, key: "good", 1...500)) \(rows(harness, key: "bad", 1...700)) \(rows(harness, key: "good", 501...600)) COMMIT;")
        let progress = try harness.run(
            untilTransactions: 1, streaming: true, graph: try routed(harness, unmatched: .deadLetter), expectStagingWhileStreaming: true,
            until: { $0.records + $0.deadLetters >= 1300 })
        #expect(progress.records == 600)
        #expect(progress.deadLetters == 700)
        let all = try harness.committedRecords()
        let letters = all.filter { $0.key.topic == "test.dead-letter" }.values.flatMap { $0 }
        let good = all.filter { $0.key.topic == "routed.good" }.values.flatMap { $0 }
        #expect(letters.count == 700 && good.count == 600)
        #expect(Set(letters.compactMap { $0.headerText("outflow.stage") }) == ["route"])
        #expect(Set((letters + good).map { "\($0.headerText("outflow.lsn") ?? "-")/\($0.timestamp)" }).count == 1)
    }

    /// A change no stage turns into a record becomes an envelope whose `source` names the
    /// commit, also when its transaction streamed.
    @Test func anEnvelopeOfAStreamedTransactionNamesItsCommit() throws {
        let harness = try OutboxHarness()
        let other = "plain_\(harness.suffix)"
        try harness.sql.execute("CREATE TABLE \(other) (id int PRIMARY KEY, pad text)")
        defer { _ = try? harness.sql.execute("DROP TABLE \(other)") }
        try harness.sql.execute("ALTER PUBLICATION \(harness.publication) ADD TABLE \(other)")
        try harness.sql.execute("INSERT INTO \(other) SELECT i, repeat('y', 200) FROM generate_series(1, 2000) i")
        let progress = try harness.run(
            untilTransactions: 1, streaming: true, graph: try harness.stages(dedupe: false), expectStagingWhileStreaming: true,
            until: { $0.records >= 2000 })
        #expect(progress.streamedTransactions >= 1)
        let envelopes = try harness.committedRecords().filter { $0.key.topic == "test.public.\(other)" }.values.flatMap { $0 }
        #expect(envelopes.count == 2000)
        let lsn = try #require(envelopes.first?.headerText("outflow.lsn").flatMap { LSN($0) })
        for record in envelopes.prefix(50) {
            guard let value = record.valueText, case .object(let envelope) = try EventValue(json: value), case .object(let source)? = envelope["source"],
                  case .object(let after)? = envelope["after"] else {
                Issue.record("not an envelope: \(record.valueText ?? "nil")")
                continue
            }
            #expect(source["lsn"] == .int(Int64(lsn.rawValue)))
            #expect(source["ts_ms"] == .int(record.timestamp))
            #expect(envelope["ts_ms"] == .int(record.timestamp))
            #expect(after["pad"] == .string(String(repeating: "y", count: 200)))
        }
    }
}
