import Foundation
import PGOutput
import PostgresSource
import Testing

/// The walsender is terminated mid-stream (pg_terminate_backend): the session reconnects,
/// yields `.restarted(resumeFrom:)` with the durable position, and then delivers every
/// transaction after it — including those it had received but not seen made durable, and
/// those committed while it was away — each once, nothing lost.
@Suite struct ReconnectConformanceTests {
    @Test func aTerminatedWalsenderIsReconnectedAndNothingIsLost() throws {
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE evt_{s} (id int PRIMARY KEY, k text)", published: ["evt_{s}"])
        let session = try fixture.ownSession { $0.reconnectBackoff = (.milliseconds(50), .seconds(1)) }
        for (id, key) in ["a", "b", "c"].enumerated() { try fixture.execute("INSERT INTO evt_{s} VALUES (\(id), '\(key)')") }

        // Read a's transaction whole and b's Begin; only a becomes durable.
        var before = try readEvents(session) { events in events.compactMap(\.commit).count == 1 && events.last?.kind == "B" }
        let durable = try #require(before.compactMap(\.commit).first)
        session.markDurable(durable.endLSN)
        try session.sendStatus(force: true)

        let pid = try #require(try fixture.walsenderPID())
        #expect(try fixture.admin.execute("SELECT pg_terminate_backend(\(pid))::text AS t").value("t") == "true")
        // Committed while the session is away.
        try fixture.execute("INSERT INTO evt_{s} VALUES (3, 'd')")
        let expected = try fixture.execute("SELECT k FROM evt_{s} WHERE k <> 'a' ORDER BY id").rows.map { $0[0] }

        // Whatever libpq had buffered may still arrive; then the restart; then b, c, d whole.
        let rest = try readEvents(session) { events in
            guard let restart = events.firstIndex(where: { if case .restarted = $0 { true } else { false } }) else { return false }
            return events[restart...].compactMap(\.commit).count >= 3
        }
        before += rest
        let restartIndex = try #require(before.firstIndex { if case .restarted = $0 { true } else { false } })
        guard case .restarted(let resumeFrom) = before[restartIndex] else { return }
        #expect(resumeFrom == durable.endLSN)
        let after = Array(before[(restartIndex + 1)...])
        #expect(after.map(\.kind) == ["B", "insert", "C", "B", "insert", "C", "B", "insert", "C"])
        #expect(after.compactMap(\.change).map { $0.newValues["k"] ?? nil } == expected)
        #expect(after.compactMap(\.change).allSatisfy { $0.sequence == 0 })
        // A new walsender serves the slot.
        #expect(try fixture.walsenderPID() != pid)
        // Before the restart: a, then whatever of b arrived (never a commit beyond b's).
        #expect(before[..<restartIndex].compactMap(\.commit).first == durable)
    }
}
