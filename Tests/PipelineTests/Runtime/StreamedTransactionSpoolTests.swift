import Foundation
import PGOutput
@testable import Pipeline
import PostgresSource
import SegmentLog
import Testing

@Suite struct StreamedTransactionSpoolTests {
    let relation = PGOutputMessage.Relation(
        relationID: 1, namespace: "public", name: "t", replicaIdentity: .default, columns: [.init(flags: .key, name: "id", typeOID: 23)])

    func insert(_ id: Int, xid: UInt32, sequence: Int) -> SourceChange {
        SourceChange(operation: .insert, xid: xid, lsn: LSN(UInt64(100 + sequence)), sequence: sequence, relation: relation,
                     newTuple: TupleData([.text(ArraySlice("\(id)".utf8))]))
    }

    /// A directory of its own, removed by `body`'s end.
    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    func committed(_ spool: StreamedTransactionSpool, _ xid: UInt32) throws -> [SourceChange] {
        var changes: [SourceChange] = []
        try spool.commitChanges(xid) { changes.append($0) }
        return changes
    }

    /// Every field, as `append` got it; relations come back without the stream xid they arrived with.
    func expectSame(_ actual: [SourceChange], _ expected: [SourceChange], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        func withoutStreamXID(_ relation: PGOutputMessage.Relation) -> PGOutputMessage.Relation {
            var relation = relation
            relation.xid = nil
            return relation
        }
        for (got, wanted) in zip(actual, expected) {
            #expect(got.operation == wanted.operation, sourceLocation: sourceLocation)
            #expect(got.xid == wanted.xid, sourceLocation: sourceLocation)
            #expect(got.lsn == wanted.lsn, sourceLocation: sourceLocation)
            #expect(got.sequence == wanted.sequence, sourceLocation: sourceLocation)
            #expect(got.relation == withoutStreamXID(wanted.relation), sourceLocation: sourceLocation)
            #expect(got.newTuple == wanted.newTuple, sourceLocation: sourceLocation)
            #expect(got.oldTuple == wanted.oldTuple, sourceLocation: sourceLocation)
            #expect(got.truncatedRelations == wanted.truncatedRelations.map(withoutStreamXID), sourceLocation: sourceLocation)
            #expect(got.truncateOptions == wanted.truncateOptions, sourceLocation: sourceLocation)
        }
    }

    func spoolFile(in directory: String) throws -> String {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        try #require(files.count == 1)
        return directory + "/" + files[0]
    }

    @Test func interleavedTransactionsSubtransactionAbortsAndWholeAborts() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = StreamedTransactionSpool(directory: directory)
        try spool.append(insert(1, xid: 10, sequence: 0), transaction: 10)
        try spool.append(insert(2, xid: 11, sequence: 1), transaction: 10)  // inside a savepoint (subxid 11)
        try spool.append(insert(90, xid: 20, sequence: 0), transaction: 20)
        try spool.append(insert(3, xid: 10, sequence: 2), transaction: 10)
        spool.abort(10, subtransaction: 11)  // ROLLBACK TO SAVEPOINT
        spool.abort(20, subtransaction: 20)  // the whole of 20
        #expect(spool.openTransactions == 1)

        var survived: [(String, Int)] = []
        try spool.commitChanges(10) { change in
            if case .text(let bytes)? = change.newTuple?.columns.first { survived.append((String(decoding: bytes, as: UTF8.self), change.sequence)) }
        }
        #expect(survived.map(\.0) == ["1", "3"])
        #expect(survived.map(\.1) == [0, 2])
        #expect(spool.openTransactions == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    /// Small buffers flush after almost every change; the default one holds the whole transaction until commit.
    @Test(arguments: [64, 1 << 20])
    func everyOperationAndColumnKindRoundTrips(bufferSize: Int) throws {
        let orders = PGOutputMessage.Relation(
            xid: 7, relationID: 16384, namespace: "shop", name: "orders", replicaIdentity: .full,
            columns: [
                .init(flags: .key, name: "id", typeOID: 20), .init(name: "note", typeOID: 25),
                .init(name: "blob", typeOID: 17), .init(name: "price", typeOID: 1700, typeModifier: 655366),
            ])
        let lines = PGOutputMessage.Relation(
            relationID: 16390, namespace: "", name: "lines", replicaIdentity: .index, columns: [.init(flags: .key, name: "order_id", typeOID: 20)])
        let row = TupleData([.text(ArraySlice("1".utf8)), .null, .binary([0, 0xFF, 0x80, 0]), .text([])])
        let changed = TupleData([.text(ArraySlice("1".utf8)), .unchangedToast, .binary([]), .text(ArraySlice("9.99".utf8))])
        let key = TupleData([.text(ArraySlice("1".utf8)), .null, .null, .null])
        let changes = [
            SourceChange(operation: .insert, xid: 7, lsn: LSN(0x1_0000_0010), sequence: 0, relation: orders, newTuple: row),
            SourceChange(operation: .update, xid: 7, lsn: LSN(0x1_0000_0020), sequence: 1, relation: orders, newTuple: changed),
            SourceChange(operation: .update, xid: 8, lsn: LSN(0x1_0000_0030), sequence: 2, relation: orders, newTuple: changed, oldTuple: .key(key)),
            SourceChange(operation: .update, xid: 8, lsn: LSN(0x1_0000_0040), sequence: 3, relation: orders, newTuple: changed, oldTuple: .oldRow(row)),
            SourceChange(operation: .delete, xid: 7, lsn: LSN(0x1_0000_0050), sequence: 4, relation: orders, oldTuple: .key(key)),
            SourceChange(operation: .delete, xid: 7, lsn: LSN(0x1_0000_0050), sequence: 5, relation: lines, oldTuple: .oldRow(TupleData([.text(ArraySlice("1".utf8))]))),
            SourceChange(
                operation: .truncate, xid: 7, lsn: LSN(.max), sequence: 6, relation: lines, truncatedRelations: [lines, orders],
                truncateOptions: [.cascade, .restartIdentity]),
            SourceChange(operation: .insert, xid: 7, lsn: LSN(0x1_0000_0060), sequence: Int(UInt32.max) + 5, relation: lines, newTuple: TupleData([])),
        ]
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: bufferSize)
            for change in changes { try spool.append(change, transaction: 7) }
            expectSame(try committed(spool, 7), changes)
        }
    }

    @Test func aTableAlteredMidTransactionKeepsEachChangesRelation() throws {
        let before = relation
        var after = relation
        after.columns.append(.init(name: "added", typeOID: 25))
        var renamed = after
        renamed.name = "renamed"
        let changes = [
            SourceChange(operation: .insert, xid: 5, lsn: LSN(1), sequence: 0, relation: before, newTuple: TupleData([.text(ArraySlice("1".utf8))])),
            SourceChange(operation: .insert, xid: 5, lsn: LSN(2), sequence: 1, relation: after, newTuple: TupleData([.text(ArraySlice("2".utf8)), .null])),
            SourceChange(operation: .insert, xid: 5, lsn: LSN(3), sequence: 2, relation: after, newTuple: TupleData([.text(ArraySlice("3".utf8)), .null])),
            SourceChange(operation: .truncate, xid: 5, lsn: LSN(4), sequence: 3, relation: renamed, truncatedRelations: [renamed]),
            SourceChange(operation: .insert, xid: 5, lsn: LSN(5), sequence: 4, relation: renamed, newTuple: TupleData([.text(ArraySlice("5".utf8)), .null])),
        ]
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: 64)
            for change in changes { try spool.append(change, transaction: 5) }
            expectSame(try committed(spool, 5), changes)
        }
    }

    @Test func aRelationIsSpooledOnceNotPerChange() throws {
        let wide = PGOutputMessage.Relation(
            relationID: 2, namespace: "public", name: "wide", replicaIdentity: .default,
            columns: [.init(flags: .key, name: String(repeating: "c", count: 1 << 15), typeOID: 23)])
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: 64)
            for sequence in 0..<100 {
                try spool.append(
                    SourceChange(operation: .insert, xid: 3, lsn: LSN(1), sequence: sequence, relation: wide, newTuple: TupleData([.text(ArraySlice("1".utf8))])),
                    transaction: 3)
            }
            let size = try #require(try FileManager.default.attributesOfItem(atPath: try spoolFile(in: directory))[.size] as? Int)
            #expect(size > 1 << 15)
            #expect(size < 2 << 15)
            #expect(try committed(spool, 3).map(\.sequence) == Array(0..<100))
        }
    }

    @Test func manyChangesAcrossTheBufferBoundaryComeBackInOrder() throws {
        let count = 30_000  // about 3 MiB: several default-sized buffers
        let payload = [UInt8](repeating: 0x61, count: 80)
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory)
            for sequence in 0..<count {
                let subtransaction: UInt32 = sequence % 3 == 0 ? 41 : 40
                try spool.append(
                    SourceChange(
                        operation: .insert, xid: subtransaction, lsn: LSN(UInt64(sequence)), sequence: sequence, relation: relation,
                        newTuple: TupleData([.text(ArraySlice("\(sequence)".utf8)), .text(payload[...])])),
                    transaction: 40)
            }
            spool.abort(40, subtransaction: 41)
            var sequences: [Int] = []
            try spool.commitChanges(40) { change in
                sequences.append(change.sequence)
                #expect(change.newTuple?.columns.first?.bytes.map { String(decoding: $0, as: UTF8.self) } == "\(change.sequence)")
                #expect(change.newTuple?.columns.last?.bytes.map(Array.init) == payload)
            }
            #expect(sequences == (0..<count).filter { $0 % 3 != 0 })
        }
    }

    @Test func aChangeLargerThanTheBufferComesBackWhole() throws {
        let large = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: 4096)
            let changes = [
                insert(1, xid: 9, sequence: 0),
                SourceChange(operation: .insert, xid: 9, lsn: LSN(2), sequence: 1, relation: relation, newTuple: TupleData([.binary(large[...])])),
                insert(3, xid: 9, sequence: 2),
            ]
            for change in changes { try spool.append(change, transaction: 9) }
            expectSame(try committed(spool, 9), changes)
        }
    }

    @Test func aSpoolFileCutShortIsAnErrorNamingTheTransactionAndFile() throws {
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: 64)
            for sequence in 0..<50 { try spool.append(insert(sequence, xid: 12, sequence: sequence), transaction: 12) }
            let path = try spoolFile(in: directory)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            #expect(truncate(path, off_t(size / 2)) == 0)
            let error = try #require(throws: StreamedTransactionSpool.SpoolError.self) { try spool.commit(12) { _ in } }
            #expect(error.message.contains("streamed transaction 12"))
            #expect(error.message.contains(path))
            #expect(spool.openTransactions == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    @Test func aDamagedSpoolFileIsAnError() throws {
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: 64)
            for sequence in 0..<50 { try spool.append(insert(sequence, xid: 13, sequence: sequence), transaction: 13) }
            let file = try #require(FileHandle(forWritingAtPath: try spoolFile(in: directory)))
            try file.write(contentsOf: [UInt8](repeating: 0xFF, count: 8))
            try file.close()
            let error = try #require(throws: StreamedTransactionSpool.SpoolError.self) { try spool.commit(13) { _ in } }
            #expect(error.message.contains("streamed transaction 13"))
        }
    }

    @Test func theHandlersErrorStopsTheCommitAndTheSpoolIsGone() throws {
        struct Refused: Error {}
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory)
            for sequence in 0..<3 { try spool.append(insert(sequence, xid: 14, sequence: sequence), transaction: 14) }
            var handled = 0
            #expect(throws: Refused.self) {
                try spool.commit(14) { _ in
                    handled += 1
                    throw Refused()
                }
            }
            #expect(handled == 1)
            #expect(spool.openTransactions == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    func record(_ topic: String, _ partition: Int32, key: String?, value: String?, headers: [RecordHeader] = [], tail: DebeziumEnvelope.Tail? = nil) throws -> PendingRecord {
        let topicPartition = try TopicPartition(topic: topic, partition: partition)
        let key = key.map { Array($0.utf8) }
        let value = value.map { Array($0.utf8) }
        if let tail {
            return PendingRecord(topicPartition: topicPartition, bodyPrefix: [], envelope: PendingEnvelope(key: key, valuePrefix: value ?? [], headers: headers, tail: tail))
        }
        return PendingRecord(topicPartition: topicPartition, bodyPrefix: try LogSink.bodyPrefix(key: key, value: value, headers: headers))
    }

    /// Records staged while a transaction streamed, across topics, with every optional part
    /// present and absent, dead letters and failures; a subtransaction's abort takes its
    /// records, failures and event count with it.
    @Test(arguments: [64, 1 << 20])
    func stagedRecordsAndFailuresRoundTripWithoutAbortedSubtransactions(bufferSize: Int) throws {
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: bufferSize)
            let tail = DebeziumEnvelope.Tail(table: TableName(schema: "shop", name: "orders"), operation: .update)
            let note = DeadLetterNote(stage: "route", reason: "no route matched")
            let kept: [(PendingRecord, DeadLetterNote?)] = [
                (try record("outbox.event.order", 2, key: "k1", value: "{\"a\":1}", headers: [RecordHeader(key: "id", value: Array("e1".utf8))]), nil),
                (try record("outbox.event.user", 0, key: nil, value: nil, headers: [RecordHeader(key: "empty", value: nil), RecordHeader(key: "", value: [])]), nil),
                (try record("dead", 1, key: "k2", value: "v", headers: [RecordHeader(key: "outflow.error", value: Array("bad".utf8))]), note),
                (try record("outbox.event.order", 0, key: "k3", value: "{\"before\":null,\"after\":{}", tail: tail), nil),
                (try record("dead", 0, key: nil, value: "{}", headers: [RecordHeader(key: "h", value: nil)], tail: tail), note),
            ]
            let failure = StagedFailure(stage: "route", reason: "no route matched (unmatched: fail)", table: "public.outbox", sequence: 7)
            try spool.countStagedEvent(subtransaction: 50, transaction: 50)
            try spool.append(kept[0].0, deadLetter: kept[0].1, subtransaction: 50, transaction: 50)
            try spool.countStagedEvent(subtransaction: 51, transaction: 50)
            try spool.append(try record("outbox.event.rolled", 0, key: "gone", value: "gone"), deadLetter: nil, subtransaction: 51, transaction: 50)
            try spool.append(StagedFailure(stage: "x", reason: "rolled back", table: "t", sequence: 1), subtransaction: 51, transaction: 50)
            for (record, deadLetter) in kept.dropFirst() {
                try spool.countStagedEvent(subtransaction: 50, transaction: 50)
                try spool.append(record, deadLetter: deadLetter, subtransaction: 50, transaction: 50)
            }
            try spool.append(failure, subtransaction: 50, transaction: 50)
            spool.abort(50, subtransaction: 51)

            var records: [(PendingRecord, DeadLetterNote?)] = []
            var failures: [StagedFailure] = []
            let events = try spool.commit(50) { item in
                switch item {
                case .record(let record, let deadLetter): records.append((record, deadLetter))
                case .failure(let failure): failures.append(failure)
                case .change: Issue.record("a change came back from a spool of records")
                }
            }
            #expect(records.map(\.0) == kept.map(\.0))
            #expect(records.map(\.1) == kept.map(\.1))
            #expect(failures == [failure])
            #expect(events == 5)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    @Test func aRecordNamingAnUndeclaredTopicIsAnError() throws {
        try withDirectory { directory in
            let spool = StreamedTransactionSpool(directory: directory, bufferSize: 64)
            // Enough to be written out past the 64-byte buffer before the file is damaged.
            for _ in 0..<10 { try spool.append(try record("a", 0, key: "k", value: "v"), deadLetter: nil, subtransaction: 15, transaction: 15) }
            // Overwrite the topic declaration's tag (the first entry's first byte, after its length).
            let file = try #require(FileHandle(forUpdatingAtPath: try spoolFile(in: directory)))
            try file.seek(toOffset: 4)
            try file.write(contentsOf: [UInt8(ascii: "X")])
            try file.close()
            let error = try #require(throws: StreamedTransactionSpool.SpoolError.self) { try spool.commit(15) { _ in } }
            #expect(error.message.contains("streamed transaction 15"))
            #expect(error.message.contains("unknown entry tag"))
        }
    }
}

extension StreamedTransactionSpool {
    /// Reads back a spool of changes.
    func commitChanges(_ xid: UInt32, _ handle: (SourceChange) throws -> Void) throws {
        try commit(xid) { item in
            guard case .change(let change) = item else {
                Issue.record("a spool of changes gave back \(item)")
                return
            }
            try handle(change)
        }
    }
}
