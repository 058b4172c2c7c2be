import PGOutput
import Testing

/// The decoder against what PostgreSQL 15 actually sent (Fixtures/CapturedStreams.swift,
/// captured by scripts/capture-pgoutput-fixtures). Expected values come from the workload SQL
/// in that script and from the LSN and xid columns the server returned next to each message.
@Suite struct CapturedStreamTests {
    struct Row {
        var lsn: LSN
        var xid: UInt32
        var bytes: [UInt8]
        var message: PGOutputMessage
    }

    /// Decodes a fixture in order with one decoder, as a replication client would.
    static func decode(_ fixture: String, protocolVersion: Int, streaming: PGOutputDecoder.Streaming = .off) throws -> [Row] {
        var decoder = PGOutputDecoder(protocolVersion: protocolVersion, streaming: streaming)
        return try fixture.split(separator: "\n").map { line in
            let fields = line.split(separator: " ")
            try #require(fields.count == 3, "bad fixture line: \(line)")
            let bytes = hex(String(fields[2]))
            return Row(lsn: try #require(LSN(fields[0])), xid: try #require(UInt32(fields[1])), bytes: bytes, message: try decoder.decode(bytes))
        }
    }

    /// Tag letters, for comparing message sequences.
    static func tags(_ rows: [Row]) -> String {
        String(rows.map { Character(UnicodeScalar($0.message.tagByte)) })
    }

    static func text(_ column: TupleColumn?) -> String? {
        guard case .text(let bytes)? = column else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func texts(_ tuple: TupleData) -> [String?] { tuple.columns.map(text) }

    @Test(arguments: [
        ("basicProto1", CapturedStreams.basicProto1, 1, PGOutputDecoder.Streaming.off),
        ("basicProto1Binary", CapturedStreams.basicProto1Binary, 1, .off),
        ("streamingProto2", CapturedStreams.streamingProto2, 2, .on),
        ("twoPhaseProto3", CapturedStreams.twoPhaseProto3, 3, .on),
    ])
    func everyCapturedMessageDecodesLosslessly(name: String, fixture: String, protocolVersion: Int, streaming: PGOutputDecoder.Streaming) throws {
        let rows = try Self.decode(fixture, protocolVersion: protocolVersion, streaming: streaming)
        #expect(rows.count > 20)
        for row in rows {
            if case .unknown = row.message { Issue.record("\(name): unknown message \(hexString(row.bytes))") }
            #expect(row.message.encode() == row.bytes, "\(name): \(hexString(row.bytes))")
        }
    }

    @Test func basicWorkloadDecodesAsTheSQLImplies() throws {
        let rows = try Self.decode(CapturedStreams.basicProto1, protocolVersion: 1)
        // One transaction per statement (or explicit block) of the workload, in order:
        // insert 1 (Types for mood and posint, then outbox's Relation) · insert 2, 3 · update ·
        // key update · delete · full_t insert · update · delete · toast_t insert · update ·
        // toast_full_t insert · update · parent insert · child insert · TRUNCATE parent CASCADE
        // (both tables) · TRUNCATE full_t (Relation re-sent after the invalidation) ·
        // transactional message · non-transactional message · non-transactional message of a
        // rolled-back transaction (whose insert never shows) · insert with an origin.
        let expected = "BYYRIC" + "BIIC" + "BUC" + "BUC" + "BDC" + "BRIC" + "BUC" + "BDC" + "BRIC" + "BUC" + "BRIC" + "BUC"
            + "BRIC" + "BRIC" + "BRRTC" + "BRTC" + "BMC" + "M" + "M" + "BOIC"
        #expect(Self.tags(rows) == expected)

        // Begin/Commit pairs agree with each other and with the server's xid and LSN columns.
        var begin: PGOutputMessage.Begin?
        for row in rows {
            switch row.message {
            case .begin(let b):
                #expect(b.xid == row.xid)
                begin = b
            case .commit(let c):
                #expect(c.endLSN == row.lsn)
                #expect(c.commitLSN == begin?.finalLSN)
                #expect(c.commitTimestamp == begin?.commitTimestamp)
                #expect(c.commitLSN < c.endLSN)
                #expect(c.flags == 0)
                begin = nil
            case .message(let m):
                #expect(m.lsn == row.lsn)
            default: break
            }
        }

        let relations = rows.compactMap { if case .relation(let r) = $0.message { r } else { nil } }
        let types = rows.compactMap { if case .type(let t) = $0.message { t } else { nil } }
        let outbox = try #require(relations.first { $0.name == "outbox" })
        #expect(outbox.namespace == "public")
        #expect(outbox.replicaIdentity == .default)
        #expect(outbox.columns.map(\.name) == ["id", "aggregate_type", "aggregate_id", "event_type", "payload", "created_at", "mood", "score"])
        #expect(outbox.columns.map(\.isKey) == [true, false, false, false, false, false, false, false])
        // int8, text × 3, jsonb, timestamptz (pg_type OIDs), then the enum and the domain.
        #expect(outbox.columns.prefix(6).map(\.typeOID) == [20, 25, 25, 25, 3802, 1184])
        #expect(outbox.columns.allSatisfy { $0.typeModifier == -1 })
        // The Type messages name the user types the Relation uses: the enum by its own name,
        // the domain by its base type's (pg_catalog shows as "").
        let mood = try #require(types.first { $0.typeOID == outbox.columns[6].typeOID })
        #expect(mood.namespace == "public")
        #expect(mood.name == "mood")
        let posint = try #require(types.first { $0.typeOID == outbox.columns[7].typeOID })
        #expect(posint.namespace == "")
        #expect(posint.name == "int4")
        #expect(mood.typeOID >= 16_384 && posint.typeOID >= 16_384)

        let changes = rows.map(\.message)
        let inserts = changes.compactMap { if case .insert(let i) = $0 { i } else { nil } }
        let updates = changes.compactMap { if case .update(let u) = $0 { u } else { nil } }
        let deletes = changes.compactMap { if case .delete(let d) = $0 { d } else { nil } }

        #expect(inserts[0].relationID == outbox.relationID)
        #expect(Self.texts(inserts[0].newTuple) == ["1", "order", "o-1", "OrderCreated", #"{"total": 42}"#, "2026-01-02 03:04:05+00", "happy", "7"])
        // NULLs are 'n', not empty text.
        #expect(inserts[2].newTuple.columns.map(\.kind) == [.text, .text, .text, .text, .null, .text, .null, .null])
        #expect(!inserts.map(\.newTuple).contains { Self.text($0.columns.first) == "99" })

        // Replica identity default, key unchanged: no old tuple.
        #expect(updates[0].old == nil)
        #expect(Self.text(updates[0].newTuple.columns[3]) == "OrderPaid")
        // Key changed 2 → 10: the old key, other columns null.
        guard case .key(let oldKey)? = updates[1].old else {
            Issue.record("expected a K tuple: \(updates[1])")
            return
        }
        #expect(Self.texts(oldKey) == ["2", nil, nil, nil, nil, nil, nil, nil])
        #expect(oldKey.columns.dropFirst().allSatisfy { $0 == .null })
        #expect(Self.text(updates[1].newTuple.columns[0]) == "10")
        #expect(deletes[0].old == .key(TupleData([.text(utf8("3"))] + Array(repeating: .null, count: 7))))

        // Replica identity full: the whole old row.
        let fullT = try #require(relations.first { $0.name == "full_t" })
        #expect(fullT.replicaIdentity == .full)
        #expect(fullT.columns.allSatisfy { $0.isKey })
        #expect(updates[2].relationID == fullT.relationID)
        #expect(updates[2].old == .oldRow(TupleData([.text(utf8("1")), .text(utf8("a")), .text(utf8("1.50"))])))
        #expect(Self.texts(updates[2].newTuple) == ["1", "a", "2.25"])
        #expect(deletes[1].old == .oldRow(TupleData([.text(utf8("1")), .text(utf8("a")), .text(utf8("2.25"))])))

        // TOAST: the 3200-byte value (100 md5 hex digests) is inserted, then left out of the
        // update of another column as 'u' — distinct from NULL.
        let toastT = try #require(relations.first { $0.name == "toast_t" })
        let toastInsert = try #require(inserts.first { $0.relationID == toastT.relationID })
        #expect(toastInsert.newTuple.columns[1].bytes?.count == 3200)
        let toastUpdate = try #require(updates.first { $0.relationID == toastT.relationID })
        #expect(toastUpdate.old == nil)
        #expect(toastUpdate.newTuple.columns == [.text(utf8("1")), .unchangedToast, .text(utf8("1"))])
        // With replica identity full the old row carries it inline; the new tuple still says 'u'.
        let toastFull = try #require(relations.first { $0.name == "toast_full_t" })
        let toastFullUpdate = try #require(updates.first { $0.relationID == toastFull.relationID })
        #expect(toastFullUpdate.old?.tuple.columns[1].bytes == toastInsert.newTuple.columns[1].bytes)
        #expect(toastFullUpdate.newTuple.columns[1] == .unchangedToast)

        // TRUNCATE parent_t RESTART IDENTITY CASCADE names both tables; TRUNCATE full_t has no options.
        let truncates = changes.compactMap { if case .truncate(let t) = $0 { t } else { nil } }
        let parent = try #require(relations.first { $0.name == "parent_t" })
        let child = try #require(relations.first { $0.name == "child_t" })
        #expect(truncates.count == 2)
        #expect(truncates[0].options == [.cascade, .restartIdentity])
        #expect(Set(truncates[0].relationIDs) == [parent.relationID, child.relationID])
        #expect(truncates[1].options == [])
        #expect(truncates[1].relationIDs == [fullT.relationID])

        // Logical messages: the transactional one inside B…C, the others on their own.
        let messages = changes.compactMap { if case .message(let m) = $0 { m } else { nil } }
        #expect(messages.map(\.isTransactional) == [true, false, false])
        #expect(messages.map(\.prefix) == ["outflow", "outflow", "outflow.nontx"])
        #expect(messages.map { String(decoding: $0.content, as: UTF8.self) } == ["hello tx", "hello nontx", "survives rollback"])

        // The replicated transaction names its origin and the commit LSN set on the upstream.
        let origin = try #require(changes.compactMap { if case .origin(let o) = $0 { o } else { nil } }.first)
        #expect(origin.name == "upstream")
        #expect(origin.commitLSN == LSN("0/ABCDEF"))
    }

    @Test func binaryModeSendsTheSendFormat() throws {
        let rows = try Self.decode(CapturedStreams.basicProto1Binary, protocolVersion: 1)
        let first = try #require(rows.lazy.compactMap { if case .insert(let i) = $0.message { i } else { nil } }.first)
        let columns = first.newTuple.columns
        #expect(columns.allSatisfy { $0.kind == .binary })
        // int8 1 as 8 big-endian bytes; text is its bytes; jsonb is version 1 then the text.
        #expect(columns[0] == .binary([0, 0, 0, 0, 0, 0, 0, 1]))
        #expect(columns[1] == .binary(utf8("order")))
        #expect(columns[4] == .binary([1] + utf8(#"{"total": 42}"#)))
        // timestamptz: microseconds since 2000-01-01, here 2026-01-02 03:04:05 UTC.
        #expect(columns[5] == .binary(ArraySlice(hex("0002EA5DBB151340"))))
        #expect(columns[6] == .binary(utf8("happy")))  // enum: the label
        #expect(columns[7] == .binary([0, 0, 0, 7]))  // domain over int4
    }

    @Test func streamedTransactionsCarryTheirXIDs() throws {
        let rows = try Self.decode(CapturedStreams.streamingProto2, protocolVersion: 2, streaming: .on)
        let starts = rows.compactMap { if case .streamStart(let s) = $0.message { s } else { nil } }
        let aborts = rows.compactMap { if case .streamAbort(let a) = $0.message { a } else { nil } }
        let commits = rows.compactMap { if case .streamCommit(let c) = $0.message { c } else { nil } }

        // The first big transaction: streamed in chunks, its rolled-back savepoint aborted as a
        // subtransaction, then committed. The second (rolled back) is aborted as a whole.
        #expect(commits.count == 1)
        let committed = try #require(commits.first)
        #expect(starts.first?.xid == committed.xid)
        #expect(starts.first?.isFirstSegment == true)
        #expect(starts.filter { $0.xid == committed.xid }.map(\.isFirstSegment).dropFirst().allSatisfy { !$0 })
        #expect(aborts.count == 2)
        #expect(aborts[0].xid == committed.xid && !aborts[0].isTopLevel)
        #expect(aborts[1].isTopLevel && aborts[1].xid != committed.xid)
        #expect(aborts.allSatisfy { $0.abortInfo == nil })

        // Inside blocks every change carries the xid of the (sub)transaction that made it:
        // rows 1-500 the top-level one, rows 1001-1500 the rolled-back savepoint's, row 2000
        // the savepoint re-established by ROLLBACK TO. What survives the subtransaction abort
        // is exactly what the SQL committed.
        var blockXID: UInt32?
        var streamed: [(top: UInt32, xid: UInt32, id: Int)] = []
        for row in rows {
            switch row.message {
            case .streamStart(let s): blockXID = s.xid
            case .streamStop: blockXID = nil
            case .insert(let i):
                if let top = blockXID {
                    let xid = try #require(i.xid, "an Insert inside a stream block without xid")
                    streamed.append((top, xid, Int(Self.text(i.newTuple.columns.first) ?? "") ?? -1))
                } else {
                    #expect(i.xid == nil)
                }
            case .relation(let r): #expect((r.xid != nil) == (blockXID != nil))
            default: break
            }
        }
        let firstTransaction = streamed.filter { $0.top == committed.xid }
        let savepoint = firstTransaction.filter { $0.xid == aborts[0].subtransactionXID }.map(\.id)
        #expect(!savepoint.isEmpty && savepoint.allSatisfy { (1001...1500).contains($0) })
        let survivors = firstTransaction.filter { $0.xid != aborts[0].subtransactionXID }.map(\.id)
        #expect(survivors.sorted() == Array(1...500) + [2000])
        #expect(firstTransaction.filter { (1...500).contains($0.id) }.allSatisfy { $0.xid == committed.xid })
        let doomed = streamed.filter { $0.top == aborts[1].xid }
        #expect(!doomed.isEmpty && doomed.allSatisfy { (3001...3600).contains($0.id) && $0.xid == aborts[1].xid })
        // The regular transaction in between was not streamed.
        #expect(Self.tags(rows).contains("BYYRIC"))
    }

    @Test func twoPhaseTransactionsPairUp() throws {
        let rows = try Self.decode(CapturedStreams.twoPhaseProto3, protocolVersion: 3, streaming: .on)
        let messages = rows.map(\.message)
        let beginPrepares = messages.compactMap { if case .beginPrepare(let b) = $0 { b } else { nil } }
        let prepares = messages.compactMap { if case .prepare(let p) = $0 { p } else { nil } }
        let streamPrepares = messages.compactMap { if case .streamPrepare(let p) = $0 { p } else { nil } }
        let commits = messages.compactMap { if case .commitPrepared(let c) = $0 { c } else { nil } }
        let rollbacks = messages.compactMap { if case .rollbackPrepared(let r) = $0 { r } else { nil } }

        #expect(beginPrepares.map(\.gid) == ["gid-commit", "gid-rollback"])
        #expect(prepares.map(\.gid) == ["gid-commit", "gid-rollback"])
        #expect(streamPrepares.map(\.gid) == ["gid-stream"])
        #expect(commits.map(\.gid) == ["gid-commit", "gid-stream"])
        #expect(rollbacks.map(\.gid) == ["gid-rollback"])
        for (begin, prepare) in zip(beginPrepares, prepares) {
            #expect(begin.xid == prepare.xid)
            #expect(begin.prepareLSN == prepare.prepareLSN)
            #expect(begin.endLSN == prepare.endLSN)
            #expect(begin.prepareTimestamp == prepare.prepareTimestamp)
        }
        #expect(commits[0].xid == prepares[0].xid)
        #expect(commits[0].commitLSN >= prepares[0].endLSN)
        #expect(rollbacks[0].xid == prepares[1].xid)
        #expect(rollbacks[0].prepareEndLSN == prepares[1].endLSN)
        #expect(rollbacks[0].prepareTimestamp == prepares[1].prepareTimestamp)
        #expect(rollbacks[0].rollbackTimestamp >= rollbacks[0].prepareTimestamp)
        #expect(commits[1].xid == streamPrepares[0].xid)
        // The streamed prepared transaction was opened by Stream Start with the same xid.
        let start = try #require(messages.lazy.compactMap { if case .streamStart(let s) = $0 { s } else { nil } }.first)
        #expect(start.xid == streamPrepares[0].xid)
        // Stream Prepare and Commit Prepared come after the last Stream Stop, in that order.
        #expect(Self.tags(rows).hasSuffix("EpK"))
    }
}
