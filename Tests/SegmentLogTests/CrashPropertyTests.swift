import BinaryIO
import Foundation
import Synchronization
import Testing
@testable import SegmentLog

/// Random appends, commits, aborts and crashes. A crash closes the writer mid-flight and cuts
/// the newest segment of random partitions (and of `__transactions`) at a random byte of the
/// part that was never fsynced (as recorded by `FileSyncRecord.sizes` at each real fsync). After every recovery the read_committed view must be exactly
/// the committed transactions, in order, and the last commit metadata the last committed one.
@Suite struct CrashPropertyTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["OUTFLOW_PROPERTY_SEED"].flatMap { UInt64($0) }
        ?? UInt64(Date().timeIntervalSince1970 * 1000)

    @Test func recoveryYieldsExactlyTheCommittedTransactions() throws {
        let seed = Self.seed
        print("CrashPropertyTests seed \(seed) (replay with OUTFLOW_PROPERTY_SEED=\(seed))")
        var random = SeededGenerator(seed: seed)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tps = try [
            TopicPartition(topic: "orders", partition: 0), TopicPartition(topic: "orders", partition: 1),
            TopicPartition(topic: "payments", partition: 0),
        ]
        var config = LogConfig()
        config.segmentBytes = 2500
        config.indexIntervalBytes = 256
        var expected: [TopicPartition: [String]] = [:]
        var lastMetadata: [UInt8]?
        var onDiskAtOpen: [String: Int64] = [:]
        FileSyncRecord.sizes.withLock { if $0 == nil { $0 = [:] } }
        let directories = tps.map { dir.file($0.directoryName) } + [dir.file(TransactionLog.directoryName)]

        func activeLog(_ directory: String) throws -> String? {
            guard FileManager.default.fileExists(atPath: directory) else { return nil }
            return try segmentLogs(directory).last
        }
        /// What survived the previous crash is on disk; beyond that, only what was fsynced.
        func durableSize(_ log: String) -> Int64 {
            let synced = FileSyncRecord.sizes.withLock { $0?[log] } ?? 0
            return max(synced, onDiskAtOpen[log] ?? 0)
        }
        func verify(_ round: Int) throws {
            for tp in tps {
                // A partition with committed records must still be there: a recovery that
                // deleted one would otherwise pass.
                guard FileManager.default.fileExists(atPath: dir.file(tp.directoryName)) else {
                    #expect((expected[tp] ?? []).isEmpty, "seed \(seed) round \(round) \(tp): the partition is gone")
                    continue
                }
                let seen = try readAll(dir.path, tp)
                #expect(seen == expected[tp] ?? [], "seed \(seed) round \(round) \(tp)")
            }
        }

        for round in 0..<20 {
            let writer = try LogWriter.open(directory: dir.path, config: config)
            #expect(writer.lastCommittedMetadata == lastMetadata, "seed \(seed) round \(round)")
            try verify(round)
            let report = try LogVerifier.verify(directory: dir.path)
            #expect(report.isHealthy, "seed \(seed) round \(round): \(report.errors)")
            for directory in directories { if let log = try activeLog(directory) { onDiskAtOpen[log] = try fileSize(log) } }
            var crashedInTransaction = false
            transactions: for transaction in 0..<Int.random(in: 1...5, using: &random) {
                try writer.beginTransaction()
                var pending: [TopicPartition: [String]] = [:]
                for append in 0..<Int.random(in: 0...4, using: &random) {
                    let tp = tps.randomElement(using: &random)!
                    let values = (0..<Int.random(in: 1...3, using: &random)).map { "r\(round)-t\(transaction)-a\(append)-\($0)" }
                    try writer.append(values.map { record($0) }, to: tp)
                    pending[tp, default: []] += values
                }
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<6:
                    let metadata = Array("round \(round) transaction \(transaction)".utf8)
                    try writer.commit(metadata: metadata)
                    lastMetadata = metadata
                    for (tp, values) in pending { expected[tp, default: []] += values }
                case 6..<8:
                    try writer.abort()
                default:
                    crashedInTransaction = true
                    break transactions
                }
            }
            _ = crashedInTransaction
            writer.close()
            // The crash: unsynced bytes of the newest segments may be lost, from any byte on.
            for directory in directories where Bool.random(using: &random) {
                guard let log = try activeLog(directory) else { continue }
                let size = try fileSize(log)
                let floor = durableSize(log)
                #expect(floor <= size)
                if floor < size { try truncateFile(log, to: Int64.random(in: floor...size, using: &random)) }
            }
        }
        let final = try LogWriter.open(directory: dir.path, config: config)
        #expect(final.lastCommittedMetadata == lastMetadata)
        try verify(99)
        final.close()
        // The independent reader agrees on the recovered log.
        let oracle = try #require(try Oracle.run("read_log.py", [dir.path]) as? [String: Any])
        let partitions = try #require(oracle["partitions"] as? [String: [String: Any]])
        for tp in tps {
            guard let report = partitions[tp.directoryName] else {
                #expect((expected[tp] ?? []).isEmpty, "seed \(seed) \(tp): kafka-python found no partition")
                continue
            }
            let theirs = try #require(report["read_committed"] as? [[String: Any]]).map { text(Array(Data(hex: $0["value"] as! String))) ?? "" }
            #expect(theirs == expected[tp] ?? [], "seed \(seed) \(tp): kafka-python disagrees")
        }
        #expect(expected.values.reduce(0) { $0 + $1.count } > 0)
    }
}
