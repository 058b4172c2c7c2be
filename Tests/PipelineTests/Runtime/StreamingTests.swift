import Foundation
import PGOutput
import Pipeline
import PostgresSource
import SegmentLog
import Testing

/// Large transactions streamed while still open (pgoutput `streaming 'on'`).
@Suite struct StreamingTests {
    @Test func aStreamedTransactionReachesTheLogWholeInCommitOrderWithoutItsRolledBackSavepoint() throws {
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
        let progress = try harness.run(untilTransactions: 3, streaming: true)
        #expect(progress.sourceTransactions == 3)
        #expect(progress.streamedTransactions == 1)  // the big one came through the stream

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
    }
}
