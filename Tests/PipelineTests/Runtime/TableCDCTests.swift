import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// A pipeline without stages: every change becomes a Debezium-style envelope.
@Suite struct TableCDCTests {
    @Test func changesBecomeTypedDebeziumEnvelopes() throws {
        let harness = try OutboxHarness()
        let table = "accounts_\(harness.suffix)"
        try harness.sql.execute("""
            CREATE TYPE mood_\(harness.suffix) AS ENUM ('calm', 'busy');
            CREATE TABLE \(table) (id int PRIMARY KEY, balance numeric(12,2), active bool, opened date,
                                   tags text[], mood mood_\(harness.suffix), doc jsonb, seen timestamptz);
            ALTER PUBLICATION \(harness.publication) ADD TABLE \(table);
            ALTER PUBLICATION \(harness.publication) SET (publish = 'insert, update, delete');
            """)
        try harness.sql.execute("""
            INSERT INTO \(table) VALUES (7, 1234.50, true, '2024-02-29', '{a,"b c"}', 'busy', '{"x": [1, 2]}', '2024-01-01 12:00:00+00');
            UPDATE \(table) SET balance = 0.01, mood = 'calm' WHERE id = 7;
            DELETE FROM \(table) WHERE id = 7;
            """)
        let writer = try LogWriter.open(directory: harness.logDirectory)
        let runner = try PipelineRunner(
            graph: try CompiledStageGraph(stages: [], wiring: []), writer: writer,
            settings: PipelineRunner.Settings(pipelineName: "shop", deadLetterTopic: "shop.dead-letter"),
            rowDecoder: RowDecoder(connectionString: harness.url))
        let source = try ReplicationSession(settings: harness.replicationSettings())
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        try runner.run(source: ReplicationSource(source), shouldStop: { runner.progress.sourceTransactions >= 1 || ContinuousClock.now >= deadline })
        source.close()
        writer.close()
        #expect(runner.progress.deadLetters == 0)

        let records = try harness.committedRecords().filter { $0.key.topic == "shop.public.\(table)" }.flatMap(\.value)
        try #require(records.count == 3)
        let envelopes = try records.map { record in
            let value = try #require(record.value)
            return try #require(try JSONSerialization.jsonObject(with: Data(value)) as? [String: Any])
        }
        #expect(envelopes.map { $0["op"] as? String } == ["c", "u", "d"])
        #expect(records.map(\.keyText) == [#"{"id":7}"#, #"{"id":7}"#, #"{"id":7}"#])

        let created = try #require(envelopes[0]["after"] as? [String: Any])
        #expect(envelopes[0]["before"] is NSNull)
        #expect(created["id"] as? Int == 7)
        #expect(created["balance"] as? String == "1234.50")  // exact: numeric as a string
        #expect(created["active"] as? Bool == true)
        #expect(created["opened"] as? Int == 19_782)  // days since 1970-01-01
        #expect(created["tags"] as? [String] == ["a", "b c"])
        #expect(created["mood"] as? String == "busy")
        #expect((created["doc"] as? [String: Any])?["x"] as? [Int] == [1, 2])
        #expect(created["seen"] as? String == "2024-01-01T12:00:00Z")
        let origin = try #require(envelopes[0]["source"] as? [String: Any])
        #expect(origin["table"] as? String == table && origin["schema"] as? String == "public")
        #expect(origin["txId"] as? Int != nil && origin["lsn"] as? Int != nil)

        let updated = try #require(envelopes[1]["after"] as? [String: Any])
        #expect(updated["balance"] as? String == "0.01" && updated["mood"] as? String == "calm")
        #expect((envelopes[2]["before"] as? [String: Any])?["id"] as? Int == 7)
        #expect(envelopes[2]["after"] is NSNull)
    }
}
