import Foundation
import PostgresSource
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What each guarantee buys: visibility latency (a committed outbox row until a read_committed
/// reader sees it) and catch-up throughput, measured on the real `outflow run`. A measurement
/// on a shared machine, so it runs with `make crash-test` (OUTFLOW_MEASURE_GUARANTEES=1), not
/// in `make test`; it checks the claims the modes make: at_least_once and at_most_once show a
/// record sooner than exactly_once (they do not wait for fsyncs first).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["OUTFLOW_MEASURE_GUARANTEES"] != nil))
struct GuaranteeTradeOffTests {
    struct Figures {
        var medianLatencyMicroseconds: Int
        var p90LatencyMicroseconds: Int
        var catchUpRowsPerSecond: Int
    }

    func measure(mode: String) throws -> Figures {
        let scenario = try CrashScenario(mode: mode)
        defer { scenario.cleanUp() }
        let connection = try PostgresConnection(try ConnectionString(scenario.url))

        // Catch-up: rows committed while the pipeline is down, then read as fast as it can.
        let rows = 20_000
        for _ in 0..<(rows / 1000) {
            _ = try connection.execute("""
                INSERT INTO \(scenario.table) SELECT gen_random_uuid(), 'order', 'key-' || (i % 8), 'Created', jsonb_build_object('seq', i)
                FROM generate_series(1, 1000) AS i
                """)
        }
        let run = try scenario.start(environment: [:])
        defer { run.process.terminate(); _ = try? run.waitForExit(seconds: 30); run.kill() }
        let counter = try VisibleCounter(directory: scenario.logDirectory)
        let catchUpStart = ContinuousClock.now
        let deadline = catchUpStart.advanced(by: .seconds(120))
        while try counter.count() < rows {
            guard ContinuousClock.now < deadline else { throw MissingTestPrerequisite(description: "\(mode): catch-up took over 120 s") }
            usleep(1_000)  // polling the log for a condition, bounded by the deadline
        }
        let catchUp = ContinuousClock.now - catchUpStart

        // Latency: one row per transaction, the next only once the previous is visible.
        var latencies: [Int] = []
        var expected = rows
        for _ in 0..<200 {
            _ = try connection.execute("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'key-1', 'Created', '{\"seq\": 0}')")
            let committedAt = ContinuousClock.now
            expected += 1
            let deadline = committedAt.advanced(by: .seconds(10))
            while try counter.count() < expected {
                guard ContinuousClock.now < deadline else { throw MissingTestPrerequisite(description: "\(mode): a row took over 10 s to show") }
                usleep(100)  // polling the log for a condition, bounded by the deadline
            }
            let elapsed = (ContinuousClock.now - committedAt).components
            latencies.append(Int(elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000))
        }
        latencies.sort()
        let seconds = Double(catchUp.components.seconds) + Double(catchUp.components.attoseconds) / 1e18
        return Figures(
            medianLatencyMicroseconds: latencies[latencies.count / 2], p90LatencyMicroseconds: latencies[latencies.count * 9 / 10],
            catchUpRowsPerSecond: Int(Double(rows) / seconds))
    }

    @Test func theFasterModesShowRecordsSooner() throws {
        var figures: [String: Figures] = [:]
        for mode in ["exactly_once", "at_least_once", "at_most_once"] {
            let measured = try measure(mode: mode)
            figures[mode] = measured
            print("guarantee-measure | \(mode) | median visibility \(measured.medianLatencyMicroseconds) µs | p90 \(measured.p90LatencyMicroseconds) µs | catch-up \(measured.catchUpRowsPerSecond) rows/s")
        }
        let exactlyOnce = try #require(figures["exactly_once"]).medianLatencyMicroseconds
        #expect(try #require(figures["at_least_once"]).medianLatencyMicroseconds < exactlyOnce)
        #expect(try #require(figures["at_most_once"]).medianLatencyMicroseconds < exactlyOnce)
    }
}

/// Counts the records a read_committed reader sees, reading only what is new each time.
final class VisibleCounter {
    private let tail: LogTailReader
    private var seen = 0

    init(directory: String) throws { tail = LogTailReader(directory: directory) }

    func count() throws -> Int {
        seen += try tail.newRecords().count
        return seen
    }
}
