import Foundation
import PGOutput
@testable import Pipeline
import PostgresSource
import Testing

@Suite struct StreamedTransactionSpoolTests {
    let relation = PGOutputMessage.Relation(
        relationID: 1, namespace: "public", name: "t", replicaIdentity: .default, columns: [.init(flags: .key, name: "id", typeOID: 23)])

    func insert(_ id: Int, xid: UInt32, sequence: Int) -> SourceChange {
        SourceChange(operation: .insert, xid: xid, lsn: LSN(UInt64(100 + sequence)), sequence: sequence, relation: relation,
                     newTuple: TupleData([.text(ArraySlice("\(id)".utf8))]))
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
        try spool.commit(10) { change in
            if case .text(let bytes)? = change.newTuple?.columns.first { survived.append((String(decoding: bytes, as: UTF8.self), change.sequence)) }
        }
        #expect(survived.map(\.0) == ["1", "3"])
        #expect(survived.map(\.1) == [0, 2])
        #expect(spool.openTransactions == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}
