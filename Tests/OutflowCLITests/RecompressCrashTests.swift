import Foundation
import SegmentLog
import Testing

/// `outflow log recompress` killed at each step of a segment's swap (`OUTFLOW_CRASH_AT`, an
/// abort as sudden as kill -9), then run again to the end: every record is still there once,
/// at the same offset, for Outflow's reader and for kafka-python, and `outflow log verify` finds
/// nothing wrong. Needs no PostgreSQL: the log is written here.
@Suite struct RecompressCrashTests {
    static let crashPoints = ["log.recompress.before-swap", "log.recompress.after-log-swap", "log.recompress.after-index-swap"]

    /// Several sealed segments at zstd level 1, committed and aborted transactions.
    private static func writeLog(_ path: String) throws {
        var config = LogConfig()
        config.segmentBytes = 8 * 1024
        config.zstdLevel = 1
        config.retentionMilliseconds = nil
        let writer = try LogWriter.open(directory: path, config: config)
        let tp = try TopicPartition(topic: "orders", partition: 0)
        for transaction in 0..<120 {
            try writer.beginTransaction()
            let records = (0..<30).map { row in
                Record(
                    key: Array("order-\(row % 17)".utf8),
                    value: Array(#"{"transaction": \#(transaction), "row": \#(row), "status": "placed", "currency": "EUR", "amount": \#((transaction * 31 + row * 7) % 1000)}"#.utf8),
                    timestamp: 1_780_000_000_000 + Int64(transaction))
            }
            try writer.append(records, to: tp)
            if transaction % 9 == 4 { try writer.abort() } else { try writer.commit(metadata: Array("\(transaction)".utf8)) }
        }
        #expect(writer.closeCleanly())
    }

    /// (offset, value) of every record at both isolation levels, by Outflow's reader.
    private static func records(_ path: String) throws -> [String] {
        let log = try LogReader(directory: path)
        var lines: [String] = []
        for isolation in [IsolationLevel.readCommitted, .readUncommitted] {
            let reader = try log.open(try TopicPartition(topic: "orders", partition: 0), isolation: isolation)
            while case let polled = try reader.poll(), !polled.isEmpty {
                lines += polled.map { "\(isolation) \($0.offset) \(String(decoding: $0.value ?? [], as: UTF8.self))" }
            }
        }
        return lines
    }

    /// kafka-python's read_committed and read_uncommitted offsets (Tests/Oracle/read_log.py).
    private static func oracleOffsets(_ path: String) throws -> [String: [Int]] {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
        }
        let oracle = try OutflowProcess.run(
            executable: URL(fileURLWithPath: python), [OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/read_log.py").path, path])
        #expect(oracle.status == 0, "\(oracle.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(oracle.standardOutput.utf8)) as? [String: Any])
        #expect((report["errors"] as? [String])?.isEmpty == true, "\(report["errors"] ?? "")")
        let partition = try #require((report["partitions"] as? [String: [String: Any]])?["orders-0"])
        var offsets: [String: [Int]] = [:]
        for key in ["read_committed", "read_uncommitted"] {
            offsets[key] = try #require(partition[key] as? [[String: Any]]).compactMap { $0["offset"] as? Int }
        }
        return offsets
    }

    private static func sealedBytes(_ path: String) throws -> Int {
        let directory = path + "/orders-0"
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted().dropLast()
            .reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: directory + "/" + $1)[.size] as? Int) ?? 0) }
    }

    @Test(arguments: RecompressCrashTests.crashPoints.flatMap { point in [1, 2].map { "\(point):\($0)" } })
    func killedInTheSwapAndRunAgainLosesAndRepeatsNothing(crashAt: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-recompress-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeLog(directory)
        let expected = try Self.records(directory)
        let expectedOracle = try Self.oracleOffsets(directory)
        #expect(!expected.isEmpty && expectedOracle["read_committed"]?.isEmpty == false)
        let bytesBefore = try Self.sealedBytes(directory)

        let crashed = try OutflowProcess.run(["log", "recompress", directory], environment: ["OUTFLOW_CRASH_AT": crashAt])
        #expect(crashed.status != 0, "the armed point \(crashAt) never fired: \(crashed.standardOutput)")
        #expect(crashed.standardError.contains(crashAt.split(separator: ":")[0]), "\(crashed.standardError)")
        // Readers of the log as the crash left it, before any writer repaired it.
        #expect(try Self.records(directory) == expected)

        let finished = try OutflowProcess.run(["log", "recompress", directory])
        #expect(finished.status == 0, "\(finished.standardOutput) \(finished.standardError)")
        let verified = try OutflowProcess.run(["log", "verify", "--strict", directory])
        #expect(verified.status == 0, "\(verified.standardOutput) \(verified.standardError)")
        #expect(try Self.records(directory) == expected)
        #expect(try Self.oracleOffsets(directory) == expectedOracle)
        #expect(try Self.sealedBytes(directory) < bytesBefore)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory + "/orders-0").filter { $0.contains("recompressing") }
        #expect(left.isEmpty, "\(left)")
    }
}
