import Foundation
import PGOutput
import PostgresSource
import Testing

/// A 200k-row transaction (about 120 MB of row data) without streaming: the server spills it
/// to disk and sends it at commit; the session hands it over one change at a time, so the
/// client's memory stays bounded while the consumer counts changes without keeping them.
@Suite struct LargeTransactionConformanceTests {
    @Test func twoHundredThousandRowsInBoundedMemory() throws {
        let fixture = try ReplicationFixture(tablesSQL: "CREATE TABLE huge_{s} (id int, pad text)", published: ["huge_{s}"], publish: "insert")
        let session = try fixture.ownSession()
        // 600 bytes a row (below the TOAST threshold: stored and sent as is): were the changes
        // kept, 200k of them would take about 180 MiB (measured: 255 MiB with 1000-byte rows),
        // far above the bound below; streamed one at a time, growth stays near zero.
        try fixture.execute("INSERT INTO huge_{s} SELECT g, rpad(g::text, 600, md5(g::text)) FROM generate_series(1, 200000) g")
        let stored = try fixture.execute("SELECT count(*)::text AS n, sum(octet_length(pad))::text AS bytes FROM huge_{s}")
        let rows = try #require(stored.value("n").flatMap { Int($0) })
        let storedBytes = try #require(stored.value("bytes").flatMap { Int($0) })
        #expect(rows == 200_000 && storedBytes == 200_000 * 600)

        let baseline = try residentSetSize()
        var peak = baseline
        var count = 0, bytes = 0, begins = 0, lastSequence = -1
        var commit: TransactionCommit?
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while commit == nil {
            guard ContinuousClock.now < deadline else { throw TimedOut(description: "got \(count) of \(rows) changes within 60 s") }
            guard let event = try session.next(timeoutMilliseconds: 200) else { continue }
            switch event {
            case .begin: begins += 1
            case .change(let change):
                count += 1
                #expect(change.sequence == lastSequence + 1)
                lastSequence = change.sequence
                if case .text(let value)? = change.newTuple?.columns.last { bytes += value.count }
                if count % 5000 == 0 { peak = max(peak, try residentSetSize()) }
            case .commit(let end): commit = end
            default: break
            }
        }
        peak = max(peak, try residentSetSize())
        #expect(begins == 1)
        #expect(count == rows)
        #expect(bytes == storedBytes)
        let growth = peak - baseline
        #expect(growth < 100 * 1024 * 1024, "resident memory grew by \(growth / 1024 / 1024) MiB while streaming \(bytes / 1024 / 1024) MiB of rows")
    }
}
