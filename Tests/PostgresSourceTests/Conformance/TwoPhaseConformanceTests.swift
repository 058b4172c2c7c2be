import Foundation
import PGOutput
import PostgresSource
import Testing

/// PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED. Decoded at PREPARE (Begin
/// Prepare … Prepare, then Commit Prepared or Rollback Prepared) when the slot was created
/// with TWO_PHASE or the session asks for `two_phase 'on'`; otherwise a prepared transaction
/// arrives as an ordinary one at COMMIT PREPARED, and a rolled-back one never.
/// The sandbox runs with max_prepared_transactions = 20 (scripts/pg-sandbox).
@Suite struct TwoPhaseConformanceTests {
    enum Mode: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case twoPhaseSlot, twoPhaseOption, neither
        var testDescription: String { rawValue }
    }

    @Test(arguments: Mode.allCases)
    func preparedTransactions(mode: Mode) throws {
        let fixture = try ReplicationFixture(
            tablesSQL: "CREATE TABLE prep_{s} (id int PRIMARY KEY, what text)", published: ["prep_{s}"], twoPhase: mode == .twoPhaseSlot)
        let maximum = try fixture.execute("SHOW max_prepared_transactions").rows.first?.first ?? nil
        try #require(Int(maximum ?? "0") ?? 0 > 0, "the sandbox needs max_prepared_transactions > 0 (scripts/pg-sandbox sets 20); it is \(maximum ?? "-")")
        let committedGID = fixture.name("outflow_c_{s}"), rolledBackGID = fixture.name("outflow_r_{s}")
        defer {
            // A prepared transaction left behind would hold locks and stall every slot creation.
            for gid in [committedGID, rolledBackGID] { _ = try? fixture.admin.execute("ROLLBACK PREPARED '\(gid)'") }
        }
        let session = try fixture.ownSession { $0.twoPhase = mode == .twoPhaseOption }

        func preparedXID(_ gid: String) throws -> UInt32 {
            try #require(try fixture.execute("SELECT transaction::text AS xid FROM pg_prepared_xacts WHERE gid = '\(gid)'").value("xid").flatMap { UInt32($0) })
        }
        try fixture.execute("BEGIN; INSERT INTO prep_{s} VALUES (1, 'committed'); PREPARE TRANSACTION '\(committedGID)'")
        let committedXID = try preparedXID(committedGID)
        try fixture.execute("COMMIT PREPARED '\(committedGID)'")
        try fixture.execute("BEGIN; INSERT INTO prep_{s} VALUES (2, 'rolled back'); PREPARE TRANSACTION '\(rolledBackGID)'")
        let rolledBackXID = try preparedXID(rolledBackGID)
        try fixture.execute("ROLLBACK PREPARED '\(rolledBackGID)'")
        try fixture.execute("INSERT INTO prep_{s} VALUES (3, 'plain')")
        #expect(try fixture.execute("SELECT id FROM prep_{s} ORDER BY id").rows.map { $0[0] } == ["1", "3"])

        // The plain insert commits last: every mode ends with its Commit.
        let all = try readEvents(session) { events in
            events.contains { $0.change?.newValues["what"] == "plain" } && events.last?.kind == "C"
        }
        // A two-phase slot also gets every other prepared transaction of the database, even
        // one without a published change (PG15 skips empty transactions, not empty prepared
        // ones): the parallel cases' show up here. Keep this test's own, by gid.
        let ours = [committedGID, rolledBackGID]
        let events = all.filter { event in
            switch event {
            case .beginPrepare(let begin): ours.contains(begin.gid)
            case .prepare(let prepare): ours.contains(prepare.gid)
            case .commitPrepared(let commit): ours.contains(commit.gid)
            case .rollbackPrepared(let rollback): ours.contains(rollback.gid)
            default: true
            }
        }
        let foreign = all.count - events.count
        if mode == .neither { #expect(foreign == 0) }
        let values = events.compactMap(\.change).map { $0.newValues["what"] ?? nil }
        switch mode {
        case .twoPhaseSlot, .twoPhaseOption:
            // The second transaction was rolled back before the walsender decoded its PREPARE.
            // The server then stops decoding its changes at the first catalog lookup that finds
            // it aborted ("concurrent abort"), which may come before its insert is sent, and
            // still sends its Prepare and Rollback Prepared.
            let rolledBackSent = values.contains("rolled back")
            #expect(events.map(\.kind) == ["b", "insert", "P", "K", "b"] + (rolledBackSent ? ["insert"] : []) + ["P", "r", "B", "insert", "C"])
            #expect(values == ["committed"] + (rolledBackSent ? ["rolled back"] : []) + ["plain"])
            var begins: [PGOutputMessage.BeginPrepare] = [], prepares: [PGOutputMessage.Prepare] = []
            var commits: [PGOutputMessage.CommitPrepared] = [], rollbacks: [PGOutputMessage.RollbackPrepared] = []
            for event in events {
                switch event {
                case .beginPrepare(let begin): begins.append(begin)
                case .prepare(let prepare): prepares.append(prepare)
                case .commitPrepared(let commit): commits.append(commit)
                case .rollbackPrepared(let rollback): rollbacks.append(rollback)
                default: break
                }
            }
            #expect(begins.map(\.gid) == [committedGID, rolledBackGID] && prepares.map(\.gid) == [committedGID, rolledBackGID])
            #expect(begins.map(\.xid) == [committedXID, rolledBackXID] && prepares.map(\.xid) == [committedXID, rolledBackXID])
            #expect(zip(begins, prepares).allSatisfy { $0.prepareLSN == $1.prepareLSN && $0.endLSN == $1.endLSN })
            #expect(commits.map(\.gid) == [committedGID] && commits.map(\.xid) == [committedXID])
            #expect(rollbacks.map(\.gid) == [rolledBackGID] && rollbacks.map(\.xid) == [rolledBackXID])
            // The resolution comes after the prepare (its record may start right at the prepare's
            // end), and the rollback names the prepare's end.
            #expect(commits[0].commitLSN >= prepares[0].endLSN && commits[0].endLSN > commits[0].commitLSN)
            #expect(rollbacks[0].prepareEndLSN == prepares[1].endLSN && rollbacks[0].rollbackEndLSN > prepares[1].endLSN)
            #expect(events.compactMap(\.change).dropLast().map(\.xid) == [committedXID] + (rolledBackSent ? [rolledBackXID] : []))
            // The slot now decodes at PREPARE for good.
            #expect(try fixture.admin.execute("SELECT two_phase::text AS t FROM pg_replication_slots WHERE slot_name = '\(fixture.slot)'").value("t") == "true")
        case .neither:
            #expect(events.map(\.kind) == ["B", "insert", "C", "B", "insert", "C"])
            #expect(values == ["committed", "plain"])
            #expect(events.compactMap(\.commit).first?.xid == committedXID)
        }
    }
}
