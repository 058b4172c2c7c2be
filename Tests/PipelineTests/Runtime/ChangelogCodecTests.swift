import PGOutput
import Pipeline
import PostgresSource
@testable import SegmentLog
import Testing

@Suite struct ChangelogCodecTests {
    let relation = PGOutputMessage.Relation(
        xid: 77, relationID: 16400, namespace: "public", name: "orders", replicaIdentity: .full,
        columns: [.init(flags: .key, name: "id", typeOID: 23), .init(name: "note", typeOID: 25)])
    let other = PGOutputMessage.Relation(relationID: 16401, namespace: "shop", name: "lines", replicaIdentity: .default, columns: [.init(flags: .key, name: "id", typeOID: 20)])

    func text(_ value: String) -> TupleColumn { .text(ArraySlice(value.utf8)) }

    func roundTrip(_ change: SourceChange) throws -> (EventOrigin, SourceChange) {
        let origin = EventOrigin(commitLSN: LSN("1/F0")!, xid: 77, commitTime: PostgresTimestamp(unixMicroseconds: 1_700_000_000_000_001), table: change.table, operation: change.operation, sequence: change.sequence)
        let record = ChangelogCodec.record(for: change, origin: origin)
        #expect(record.sourceLSN == LSN("1/F0")!.rawValue)  // indexed by the log's LSN index
        let decoded = try ChangelogCodec.change(from: StoredRecord(offset: 9, record: record))
        #expect(decoded.origin == origin)
        return decoded
    }

    @Test func everyKindOfChangeComesBackAsItWent() throws {
        let update = SourceChange(
            operation: .update, xid: 77, lsn: LSN("1/E0")!, sequence: 4, relation: relation,
            newTuple: TupleData([text("1"), text("after")]), oldTuple: .oldRow(TupleData([text("1"), .null])))
        let back = try roundTrip(update).1
        #expect(back.operation == .update && back.sequence == 4 && back.lsn == LSN("1/E0")!)
        #expect(back.newTuple == update.newTuple && back.oldTuple == update.oldTuple)
        #expect(back.relation.columns == relation.columns && back.table == TableName(schema: "public", name: "orders"))

        let delete = SourceChange(operation: .delete, xid: 77, lsn: LSN("1/E8")!, sequence: 5, relation: relation, oldTuple: .key(TupleData([text("1"), .null])))
        #expect(try roundTrip(delete).1.oldTuple == delete.oldTuple)

        let truncate = SourceChange(
            operation: .truncate, xid: 77, lsn: LSN("1/E9")!, sequence: 6, relation: relation,
            truncatedRelations: [relation, other], truncateOptions: [.cascade])
        let truncated = try roundTrip(truncate).1
        #expect(truncated.truncatedRelations.map(\.name) == ["orders", "lines"] && truncated.truncateOptions == [.cascade])
    }

    @Test func damagedRecordsAreErrorsNotCrashes() throws {
        let insert = SourceChange(operation: .insert, xid: 1, lsn: LSN("0/10")!, sequence: 0, relation: relation, newTuple: TupleData([text("1"), text("x")]))
        let record = ChangelogCodec.record(for: insert, origin: EventOrigin(commitLSN: LSN("0/20")!, xid: 1, commitTime: PostgresTimestamp(rawValue: 0), table: insert.table, operation: .insert, sequence: 0))
        var noRelation = record
        noRelation.headers.removeAll { $0.key == "outflow.relation" }
        #expect(throws: ChangelogCodec.DecodingError.self) { try ChangelogCodec.change(from: StoredRecord(offset: 0, record: noRelation)) }
        for cut in 0..<(record.value?.count ?? 0) {
            var truncated = record
            truncated.value = Array(record.value![0..<cut])
            #expect(throws: ChangelogCodec.DecodingError.self) { try ChangelogCodec.change(from: StoredRecord(offset: 0, record: truncated)) }
        }
    }
}
