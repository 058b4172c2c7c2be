import BinaryIO
import Testing

/// What the simulated power loss takes: only what an fsync made durable stays.
@Suite struct PowerLossLedgerTests {
    @Test func aNewFileWhoseDirectoryWasNeverSyncedIsGone() {
        var ledger = PowerLossLedger()
        ledger.created("/log/orders-0/00000000000000000100.log", in: "/log/orders-0")
        ledger.synced("/log/orders-0/00000000000000000100.log", size: 4096)
        let loss = ledger.loss()
        // Its data was fsynced, but no fsync of the directory made its name durable.
        #expect(loss.removed == ["/log/orders-0/00000000000000000100.log"])
        #expect(loss.cutBack.isEmpty)
    }

    @Test func aSyncedDirectoryKeepsItsNewFilesAtTheirFsyncedSize() {
        var ledger = PowerLossLedger()
        ledger.created("/log/orders-0/a.log", in: "/log/orders-0")
        ledger.synced("/log/orders-0/a.log", size: 100)
        ledger.syncedDirectory("/log/orders-0")
        // Written after: not durable.
        let loss = ledger.loss()
        #expect(loss.removed.isEmpty)
        #expect(loss.cutBack.map(\.path) == ["/log/orders-0/a.log"] && loss.cutBack.map(\.size) == [100])
    }

    @Test func aFileAnEarlierProcessLeftKeepsWhatItHeldAndLosesWhatFollowedUnsynced() {
        var ledger = PowerLossLedger()
        ledger.firstWrite("/log/__transactions-0/0.log", sizeBefore: 5000)
        // A second "first write" does not move the durable size: only an fsync does.
        ledger.firstWrite("/log/__transactions-0/0.log", sizeBefore: 5200)
        #expect(ledger.loss().cutBack.map(\.size) == [5000])
        ledger.synced("/log/__transactions-0/0.log", size: 5300)
        #expect(ledger.loss().cutBack.map(\.size) == [5300])
    }

    @Test func renamesAndRemovalsFollowTheFile() {
        var ledger = PowerLossLedger()
        ledger.created("/log/outflow.position.tmp", in: "/log")
        ledger.synced("/log/outflow.position.tmp", size: 24)
        ledger.renamed("/log/outflow.position.tmp", to: "/log/outflow.position")
        ledger.syncedDirectory("/log")
        #expect(ledger.loss().cutBack.map(\.path) == ["/log/outflow.position"])
        ledger.removed("/log/outflow.position")
        #expect(ledger.loss().cutBack.isEmpty && ledger.loss().removed.isEmpty)
    }
}
