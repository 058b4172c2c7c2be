import Foundation
import Testing
@testable import SegmentLog

#if canImport(Glibc)
import Glibc
#endif

/// A crash can leave any prefix of what was written after the last fsync: segment tails cut
/// at random bytes recover to exactly the committed transactions.
@Suite struct TornTailTests {
    let orders = try! TopicPartition(topic: "orders", partition: 0)
    let payments = try! TopicPartition(topic: "payments", partition: 1)

    @Test func tailsCutAtRandomBytesRecoverToTheCommittedTransactions() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<40 {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let writer = try LogWriter.open(directory: dir.path)
            var committedOrders: [String] = [], committedPayments: [String] = []
            let ordersLog = dir.file("orders-0", "00000000000000000000.log")
            let paymentsLog = dir.file("payments-1", "00000000000000000000.log")
            let transactionsLog = dir.file("__transactions", "00000000000000000000.log")
            // What the last commit made durable: its data (synced before the commit record) and
            // the record; its COMMIT markers are not synced.
            var durable: [String: Int64] = [:]
            for txn in 0..<3 {
                try writer.beginTransaction()
                let o = (0..<Int.random(in: 1...20, using: &generator)).map { "o\(txn)-\($0)" }
                let p = (0..<Int.random(in: 1...20, using: &generator)).map { "p\(txn)-\($0)" }
                try writer.append(o.map { record($0) }, to: orders)
                try writer.append(p.map { record($0) }, to: payments)
                durable = [ordersLog: try fileSize(ordersLog), paymentsLog: try fileSize(paymentsLog)]
                try writer.commit(metadata: bytes("t\(txn)"))
                durable[transactionsLog] = try fileSize(transactionsLog)
                committedOrders += o
                committedPayments += p
            }
            // An open transaction with more data, then the process dies.
            try writer.beginTransaction()
            try writer.append((0..<30).map { record("late-\($0)") }, to: orders)
            try writer.append((0..<30).map { record("late-\($0)") }, to: payments)
            writer.close()
            for (path, floor) in durable {
                let size = try fileSize(path)
                let cut = Int64.random(in: floor...size, using: &generator)
                #expect(truncate(path, off_t(cut)) == 0)
            }

            let reopened = try LogWriter.open(directory: dir.path)
            #expect(reopened.lastCommittedMetadata == bytes("t2"), "round \(round)")
            #expect(try readAll(dir.path, orders) == committedOrders, "round \(round)")
            #expect(try readAll(dir.path, payments) == committedPayments, "round \(round)")
            // And the log goes on.
            try reopened.beginTransaction()
            try reopened.append([record("after")], to: orders)
            try reopened.commit(metadata: bytes("t3"))
            #expect(try readAll(dir.path, orders) == committedOrders + ["after"], "round \(round)")
            reopened.close()
        }
    }

    private func fileSize(_ path: String) throws -> Int64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.int64Value ?? -1
    }
}
