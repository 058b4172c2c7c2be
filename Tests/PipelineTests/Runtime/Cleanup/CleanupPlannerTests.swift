import Foundation
import PGOutput
import Testing
@testable import Pipeline

@Suite struct CleanupPlannerTests {
    static func watermark(_ time: Double, lsn: UInt64) -> CleanupWatermark {
        CleanupWatermark(snapshot: "\(Int(time)):\(Int(time)):", lsn: LSN(lsn), time: time)
    }

    static func planner(retention: Duration, interval: Duration = .seconds(30), _ watermarks: [CleanupWatermark] = []) -> CleanupPlanner {
        CleanupPlanner(settings: CleanupPlanner.Settings(retention: retention, interval: interval), watermarks: watermarks)
    }

    @Test func neverPicksAWatermarkWhoseLSNIsNotDurable() {
        let planner = Self.planner(retention: .zero, [Self.watermark(100, lsn: 500), Self.watermark(130, lsn: 900)])
        #expect(planner.usable(now: 1000, durable: LSN(499)) == nil)
        #expect(planner.usable(now: 1000, durable: LSN(500)) == Self.watermark(100, lsn: 500))
        #expect(planner.usable(now: 1000, durable: LSN(899)) == Self.watermark(100, lsn: 500))
        #expect(planner.usable(now: 1000, durable: LSN(900)) == Self.watermark(130, lsn: 900))
    }

    @Test func neverPicksAWatermarkYoungerThanTheRetention() {
        let planner = Self.planner(retention: .seconds(60), [Self.watermark(100, lsn: 500), Self.watermark(130, lsn: 900)])
        #expect(planner.usable(now: 159.9, durable: LSN(10_000)) == nil)
        #expect(planner.usable(now: 160, durable: LSN(10_000)) == Self.watermark(100, lsn: 500))
        #expect(planner.usable(now: 189.9, durable: LSN(10_000)) == Self.watermark(100, lsn: 500))
        #expect(planner.usable(now: 190, durable: LSN(10_000)) == Self.watermark(130, lsn: 900))
    }

    @Test(arguments: 0..<200)
    func theChoiceIsTheNewestUsableUnderRandomInputs(seed: Int) {
        var generator = ExpressionRoundTripTests.SeededGenerator(state: UInt64(seed))
        var time = 0.0, lsn: UInt64 = 0
        var marks: [CleanupWatermark] = []
        for _ in 0..<Int.random(in: 0...20, using: &generator) {
            time += Double.random(in: 1...100, using: &generator)
            lsn += UInt64.random(in: 1...1000, using: &generator)
            marks.append(Self.watermark(time, lsn: lsn))
        }
        let retention = Duration.seconds(Int.random(in: 0...500, using: &generator))
        let planner = Self.planner(retention: retention, marks.shuffled(using: &generator))
        let now = Double.random(in: 0...(time + 600), using: &generator)
        let durable = LSN(UInt64.random(in: 0...(lsn + 100), using: &generator))
        let chosen = planner.usable(now: now, durable: durable)
        let eligible = marks.filter { $0.lsn <= durable && $0.time <= now - Double(retention.components.seconds) }
        #expect(chosen == eligible.max { $0.time < $1.time })
        if let chosen {
            #expect(chosen.lsn <= durable)
            #expect(chosen.time <= now - Double(retention.components.seconds))
        }
    }

    @Test func takesAWatermarkEverySpacingAndCleansOnceWithEach() {
        var planner = Self.planner(retention: .zero, interval: .seconds(30))
        #expect(planner.plan(now: 0, durable: .zero) == [.takeWatermark])
        planner.recorded(Self.watermark(0, lsn: 100))
        #expect(planner.plan(now: 10, durable: LSN(50)) == [])
        let first = Self.watermark(0, lsn: 100)
        #expect(planner.plan(now: 10, durable: LSN(100)) == [.clean(first)])
        planner.cleaned(with: first)
        #expect(planner.plan(now: 20, durable: LSN(200)) == [], "cleaned with already")
        #expect(planner.plan(now: 30, durable: LSN(200)) == [.takeWatermark])
        planner.recorded(Self.watermark(30, lsn: 300))
        #expect(planner.plan(now: 40, durable: LSN(300)) == [.clean(Self.watermark(30, lsn: 300))])
        planner.cleaned(with: Self.watermark(30, lsn: 300))
        #expect(planner.watermarks == [Self.watermark(30, lsn: 300)], "older watermarks are not needed once a newer one cleaned")
    }

    @Test func aLongRetentionSpacesWatermarksBy64ths() {
        let settings = CleanupPlanner.Settings(retention: .seconds(7 * 86_400), interval: .seconds(30))
        #expect(settings.spacing == 7 * 86_400 / 64)
        var planner = CleanupPlanner(settings: settings)
        planner.recorded(Self.watermark(0, lsn: 1))
        #expect(planner.plan(now: 9000, durable: LSN(10)) == [])
        #expect(planner.plan(now: 9450, durable: LSN(10)) == [.takeWatermark])
    }

    @Test func theListStaysBoundedWhenNothingBecomesDurable() {
        var planner = CleanupPlanner(settings: CleanupPlanner.Settings(retention: .seconds(60), interval: .seconds(1), maximumWatermarks: 16))
        for second in 0..<1000 {
            let now = Double(second)
            for action in planner.plan(now: now, durable: .zero) {
                #expect(action == .takeWatermark)
                planner.recorded(Self.watermark(now, lsn: UInt64(second + 1)))
            }
            #expect(planner.watermarks.count <= 16)
        }
        // The span is kept: the oldest and the newest.
        #expect(planner.watermarks.first?.time == 0)
        #expect(planner.watermarks.last?.time == 999)
        #expect(planner.watermarks == planner.watermarks.sorted { $0.time < $1.time })
    }

    @Test func theSnapshotsXmaxIsRead() {
        #expect(CleanupWatermark(snapshot: "748:752:748,750", lsn: .zero, time: 0).xmax == 752)
        #expect(CleanupWatermark(snapshot: "garbage", lsn: .zero, time: 0).xmax == nil)
    }

    @Test func aWatermarkSurvivesItsJSONForm() throws {
        let mark = CleanupWatermark(snapshot: "5:9:6", lsn: LSN("1/2A")!, time: 1234.5)
        var state = OutboxCleanupState(table: "public.outbox")
        state.watermarks = [mark]
        state.rowsDeleted = 7
        let bytes = try JSONEncoder().encode(state)
        #expect(try JSONDecoder().decode(OutboxCleanupState.self, from: bytes) == state)
    }

    @Test func theStatementsCheckVisibilityAndTimeOnTheRowsDeleted() throws {
        let statements = CleanupStatements(table: "\"public\".\"outbox\"", column: "\"created_at\"")
        let delete = try #require(statements.deleteBatch(Self.watermark(100, lsn: 1), limit: 500, reference: 100))
        #expect(delete.hasPrefix("DELETE FROM \"public\".\"outbox\" WHERE ctid = ANY(ARRAY(SELECT ctid FROM \"public\".\"outbox\" WHERE \"created_at\" <= to_timestamp(100.0)"))
        #expect(delete.contains("LIMIT 500))"))
        #expect(delete.components(separatedBy: "pg_visible_in_snapshot").count == 3, "checked in the subquery and on the rows deleted")
        // Anything but digits, colons and commas is not a snapshot: never put into SQL.
        #expect(statements.deleteBatch(CleanupWatermark(snapshot: "1:2:'; DROP TABLE x", lsn: .zero, time: 0), limit: 1, reference: 2) == nil)
    }

    /// The widening of a 32-bit xmin: the id nearest to the reference with those low bits,
    /// never below zero.
    @Test(arguments: [
        (UInt64(1_000), UInt32(999), Int64(999)), (UInt64(1_000), UInt32(2_000), 2000),
        (UInt64(1_000), UInt32(3_000_000_000), nil),
        ((UInt64(5) << 32) | 10, UInt32(5), Int64((5 << 32) | 5)),
        ((UInt64(5) << 32) | 10, UInt32(4_294_967_000), Int64((4 << 32) | 4_294_967_000)),
        ((UInt64(5) << 32) | 4_294_967_000, UInt32(3), Int64((6 << 32) | 3)),
    ] as [(UInt64, UInt32, Int64?)])
    func aRowsXminIsWidenedToTheNearestID(reference: UInt64, xmin: UInt32, expected: Int64?) {
        #expect(XminWidening(reference: reference).widen(xmin) == expected)
    }

    @Test(arguments: 0..<100)
    func theWideningIsWithinHalfAnEpochOfTheReference(seed: Int) {
        var generator = ExpressionRoundTripTests.SeededGenerator(state: UInt64(seed))
        let reference = UInt64.random(in: 0...(1 << 40), using: &generator)
        let offset = Int64.random(in: -(1 << 31) + 1...(1 << 31) - 1, using: &generator)
        let actual = Int64(reference) + offset
        guard actual >= 0 else { return }
        #expect(XminWidening(reference: reference).widen(UInt32(truncatingIfNeeded: actual)) == actual)
    }

    @Test func aRangePartitionsUpperBoundIsRead() {
        #expect(CleanupStatements.upperBound("FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-01-02 00:00:00+00')") == "'2026-01-02 00:00:00+00'")
        #expect(CleanupStatements.upperBound("FOR VALUES FROM ('2026-01-01 00:00:00+00') TO (MAXVALUE)") == nil)
        #expect(CleanupStatements.upperBound("DEFAULT") == nil)
        #expect(CleanupStatements.upperBound("FOR VALUES IN ('a')") == nil)
    }
}

