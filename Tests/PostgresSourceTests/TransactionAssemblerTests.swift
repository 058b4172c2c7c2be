import PGOutput
import PostgresSource
import Testing

@Suite struct TransactionAssemblerTests {
    let relation = PGOutputMessage.Relation(
        relationID: 16384, namespace: "public", name: "outbox", replicaIdentity: .full,
        columns: [
            .init(flags: .key, name: "id", typeOID: 23),
            .init(name: "big", typeOID: 25),
        ])

    func text(_ value: String) -> TupleColumn { .text(ArraySlice(value.utf8)) }

    @Test func numbersChangesAndPairsCommitWithBegin() throws {
        var assembler = TransactionAssembler()
        #expect(try assembler.apply(.relation(relation), at: .zero) == nil)
        let begin = try assembler.apply(.begin(.init(finalLSN: LSN(200), commitTimestamp: .init(rawValue: 5), xid: 7)), at: LSN(100))
        guard case .begin(let header)? = begin else { Issue.record("Begin"); return }
        #expect(header.commitLSN == LSN(200) && header.xid == 7)
        #expect(!assembler.isIdle)
        for expected in 0..<3 {
            let event = try assembler.apply(.insert(.init(relationID: 16384, newTuple: TupleData([text("\(expected)"), .null]))), at: LSN(150))
            guard case .change(let change)? = event else { Issue.record("change"); return }
            #expect(change.sequence == expected && change.xid == 7 && change.operation == .insert)
        }
        let commit = try assembler.apply(.commit(.init(commitLSN: LSN(200), endLSN: LSN(248), commitTimestamp: .init(rawValue: 5))), at: LSN(248))
        guard case .commit(let end)? = commit else { Issue.record("Commit"); return }
        #expect(end == TransactionCommit(xid: 7, commitLSN: LSN(200), endLSN: LSN(248), commitTime: .init(rawValue: 5)))
        #expect(assembler.isIdle)
    }

    @Test func fillsUnchangedToastFromTheFullOldRowOnly() throws {
        var assembler = TransactionAssembler()
        _ = try assembler.apply(.relation(relation), at: .zero)
        _ = try assembler.apply(.begin(.init(finalLSN: LSN(2), commitTimestamp: .init(rawValue: 0), xid: 1)), at: LSN(1))
        let full = try assembler.apply(.update(.init(relationID: 16384, old: .oldRow(TupleData([text("1"), text("huge")])), newTuple: TupleData([text("1"), .unchangedToast]))), at: LSN(1))
        #expect(full.flatMap { if case .change(let c) = $0 { c.newTuple } else { nil } } == TupleData([text("1"), text("huge")]))
        let keyOnly = try assembler.apply(.update(.init(relationID: 16384, old: .key(TupleData([text("1"), .null])), newTuple: TupleData([text("2"), .unchangedToast]))), at: LSN(1))
        #expect(keyOnly.flatMap { if case .change(let c) = $0 { c.newTuple } else { nil } } == TupleData([text("2"), .unchangedToast]))
    }

    @Test func refusesWhatPostgresNeverSends() throws {
        var assembler = TransactionAssembler()
        #expect(throws: PostgresError.self) {
            try assembler.apply(.commit(.init(commitLSN: LSN(2), endLSN: LSN(3), commitTimestamp: .init(rawValue: 0))), at: LSN(3))
        }
        _ = try assembler.apply(.begin(.init(finalLSN: LSN(2), commitTimestamp: .init(rawValue: 0), xid: 1)), at: LSN(1))
        let unknownRelation = #expect(throws: PostgresError.self) {
            try assembler.apply(.insert(.init(relationID: 99, newTuple: TupleData([]))), at: LSN(1))
        }
        #expect(unknownRelation?.message.contains("relation 99") == true)
        #expect(throws: PostgresError.self) {
            try assembler.apply(.begin(.init(finalLSN: LSN(9), commitTimestamp: .init(rawValue: 0), xid: 2)), at: LSN(1))
        }
        let mismatch = #expect(throws: PostgresError.self) {
            try assembler.apply(.commit(.init(commitLSN: LSN(5), endLSN: LSN(6), commitTimestamp: .init(rawValue: 0))), at: LSN(6))
        }
        #expect(mismatch?.code == .protocolViolation)
    }

    @Test func streamedTransactionsInterleaveWithTheirOwnSequences() throws {
        var assembler = TransactionAssembler()
        _ = try assembler.apply(.relation(relation), at: .zero)
        var sequences: [UInt32: [Int]] = [:]
        func insert(_ xid: UInt32) throws {
            if case .change(let change)? = try assembler.apply(.insert(.init(xid: xid, relationID: 16384, newTuple: TupleData([text("1"), .null]))), at: LSN(1)) {
                sequences[change.xid, default: []].append(change.sequence)
            }
        }
        _ = try assembler.apply(.streamStart(.init(xid: 10, isFirstSegment: true)), at: .zero)
        try insert(10); try insert(10)
        _ = try assembler.apply(.streamStop, at: .zero)
        _ = try assembler.apply(.streamStart(.init(xid: 11, isFirstSegment: true)), at: .zero)
        try insert(11)
        _ = try assembler.apply(.streamStop, at: .zero)
        _ = try assembler.apply(.streamStart(.init(xid: 10, isFirstSegment: false)), at: .zero)
        try insert(10)
        _ = try assembler.apply(.streamStop, at: .zero)
        #expect(sequences == [10: [0, 1, 2], 11: [0]])
        #expect(!assembler.isIdle)
        _ = try assembler.apply(.streamAbort(.init(xid: 11, subtransactionXID: 11)), at: .zero)
        _ = try assembler.apply(.streamCommit(.init(xid: 10, commitLSN: LSN(50), endLSN: LSN(60), commitTimestamp: .init(rawValue: 0))), at: .zero)
        #expect(assembler.isIdle)
    }

    @Test func aStreamedSubtransactionsChangesShareTheTopLevelSequence() throws {
        // In a stream block a change made after a SAVEPOINT names its subtransaction (what a
        // Stream Abort of it names); it still belongs to the block's top-level transaction.
        var assembler = TransactionAssembler()
        _ = try assembler.apply(.relation(relation), at: .zero)
        var changes: [(xid: UInt32, sequence: Int)] = []
        func insert(_ xid: UInt32) throws {
            if case .change(let change)? = try assembler.apply(.insert(.init(xid: xid, relationID: 16384, newTuple: TupleData([text("1"), .null]))), at: LSN(1)) {
                changes.append((change.xid, change.sequence))
            }
        }
        _ = try assembler.apply(.streamStart(.init(xid: 10, isFirstSegment: true)), at: .zero)
        try insert(10); try insert(12); try insert(13)
        _ = try assembler.apply(.streamStop, at: .zero)
        _ = try assembler.apply(.streamAbort(.init(xid: 10, subtransactionXID: 12)), at: .zero)
        _ = try assembler.apply(.streamStart(.init(xid: 10, isFirstSegment: false)), at: .zero)
        try insert(13)
        _ = try assembler.apply(.streamStop, at: .zero)
        #expect(changes.map(\.xid) == [10, 12, 13, 13])
        #expect(changes.map(\.sequence) == [0, 1, 2, 3])
        _ = try assembler.apply(.streamCommit(.init(xid: 10, commitLSN: LSN(50), endLSN: LSN(60), commitTimestamp: .init(rawValue: 0))), at: .zero)
        #expect(assembler.isIdle)
    }
}
