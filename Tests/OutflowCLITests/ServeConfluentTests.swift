import Foundation
import SegmentLog
import Testing

/// `outflow serve` read by confluent-kafka (librdkafka, the pinned PyPI wheel in the oracle
/// venv): the same records as the independent file reader, seeks by time, and an offset the
/// log no longer holds answered OFFSET_OUT_OF_RANGE so that `auto.offset.reset` applies.
@Suite(.serialized) struct ServeConfluentTests {
    struct Consumed: Decodable {
        struct ReportedError: Decodable {
            var partition: Int32?
            var name: String
            var text: String
        }
        var partitions: [Int32]
        var records: [String: [[Value]]]
        var resolved: [String: Int64]
        var errors: [ReportedError]

        /// Each element of a record pair: the offset or the value.
        enum Value: Decodable, Hashable {
            case offset(Int64)
            case text(String)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let offset = try? container.decode(Int64.self) { self = .offset(offset) } else { self = .text(try container.decode(String.self)) }
            }
        }

        func values(_ partition: Int32) -> [String] {
            (records["\(partition)"] ?? []).compactMap { if case .text(let value) = $0.last { value } else { nil } }
        }

        func offsets(_ partition: Int32) -> [Int64] {
            (records["\(partition)"] ?? []).compactMap { if case .offset(let offset) = $0.first { offset } else { nil } }
        }
    }

    static func python() throws -> String {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with confluent-kafka that `make test` creates")
        }
        return python
    }

    static func consume(port: Int, topic: String, _ isolation: String, _ mode: [String]) throws -> Consumed {
        let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/consume_confluent.py").path
        let result = try runWithDeadline(URL(fileURLWithPath: try python()), [script, "127.0.0.1:\(port)", topic, isolation] + mode, seconds: 60)
        guard result.status == 0 else { throw MissingTestPrerequisite(description: "confluent-kafka failed (\(result.status)): \(result.standardError)") }
        return try JSONDecoder().decode(Consumed.self, from: Data(result.standardOutput.utf8))
    }

    @Test(arguments: ["read_committed", "read_uncommitted"])
    func confluentKafkaReadsWhatTheFileOracleReads(isolation: String) throws {
        let python = try Self.python()
        try ServeCommandTests.withServer { server, written, scratch in
            let consumed = try Self.consume(port: server.port, topic: ServeCommandTests.topic, isolation, ["beginning"])
            #expect(consumed.partitions == [0, 1, 2])
            #expect(consumed.errors.isEmpty, "\(consumed.errors)")
            let expected = isolation == "read_committed" ? written.committed : written.everything
            for partition: Int32 in [0, 1, 2] {
                #expect(consumed.values(partition) == expected[partition] ?? [], "partition \(partition)")
            }
            guard isolation == "read_committed" else { return }
            // The independent reader of the files (kafka-python's batch decoder): the same
            // records, at the same offsets.
            let oracle = try OutflowProcess.run(
                executable: URL(fileURLWithPath: python),
                [OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/read_committed.py").path, scratch.appendingPathComponent("log").path, ServeCommandTests.topic])
            #expect(oracle.status == 0, "\(oracle.standardError)")
            let fromFiles = oracle.standardOutput.split(separator: "\n").map { line in line.split(separator: " ").prefix(2).joined(separator: " ") }
            let fromEndpoint = [Int32(0), 1, 2].flatMap { partition in consumed.offsets(partition).map { "\(partition) \($0)" } }
            #expect(!fromFiles.isEmpty && fromEndpoint == fromFiles)
        }
    }

    @Test func confluentKafkaSeeksByTimestamp() throws {
        try ServeCommandTests.withServer { server, written, _ in
            // Transactions are stamped t0 + their number; from the third (number 2) on.
            let consumed = try Self.consume(port: server.port, topic: ServeCommandTests.topic, "read_committed", ["timestamp", "\(1_700_000_000_002)"])
            #expect(consumed.errors.isEmpty, "\(consumed.errors)")
            for partition: Int32 in [0, 1, 2] {
                let expected = (written.committed[partition] ?? []).filter { !$0.hasPrefix("t0-") && !$0.hasPrefix("t1-") }
                #expect(consumed.values(partition) == expected, "partition \(partition)")
            }
            #expect(consumed.resolved["1"] == -1, "an empty partition has no record at any time")
        }
    }

    /// A log whose oldest segments retention deleted: an offset before its start, or past its
    /// end, is OFFSET_OUT_OF_RANGE; `auto.offset.reset` then decides where the consumer goes.
    @Test func offsetsTheLogDoesNotHoldAreOutOfRangeAndTheResetPolicyApplies() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-serve-retention-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let logDirectory = scratch.appendingPathComponent("log").path
        var config = LogConfig()
        config.segmentBytes = 512
        config.retentionBytes = 1500
        let writer = try LogWriter.open(directory: logDirectory, config: config)
        defer { writer.close() }
        let topic = "retained"
        try writer.declareTopic(topic, partitionCount: 1)
        let tp = try TopicPartition(topic: topic, partition: 0)
        for number in 0..<30 {
            try writer.beginTransaction()
            try writer.append([Record(key: nil, value: Array("record-\(number)-".utf8) + Array(repeating: UInt8(ascii: "x"), count: 64), timestamp: 1_700_000_000_000)], to: tp)
            try writer.commit(metadata: [])
        }
        try writer.enforceRetention()
        let reader = try LogReader(directory: logDirectory)
        let offsets = try reader.open(tp).offsets()
        try #require(offsets.logStartOffset > 0, "retention deleted nothing: \(offsets)")
        let retained = try {
            let partition = try reader.open(tp)
            try partition.seek(toOffset: offsets.logStartOffset)
            return try partition.poll(maxRecords: 1000)
        }()
        let remaining = retained.map { String(decoding: $0.value ?? [], as: UTF8.self) }

        let server = try ServeCommandTests.Server(logDirectory: logDirectory, scratch: scratch)
        defer { _ = try? server.stop() }
        // Before the start: earliest resets to the first record retained.
        let early = try Self.consume(port: server.port, topic: topic, "read_committed", ["offset", "0", "earliest"])
        #expect(early.values(0) == remaining && !remaining.isEmpty)
        #expect(early.offsets(0).first == retained.first?.offset)
        // With no reset policy the client reports the broker's error.
        let refused = try Self.consume(port: server.port, topic: topic, "read_committed", ["offset", "0", "error"])
        #expect(refused.values(0).isEmpty)
        #expect(refused.errors.contains { $0.text.contains("Offset out of range") }, "\(refused.errors)")
        // Past the end: latest waits at the end, so nothing; earliest reads all that remains.
        let late = try Self.consume(port: server.port, topic: topic, "read_committed", ["offset", "\(offsets.endOffset + 100)", "latest"])
        #expect(late.values(0).isEmpty && late.errors.isEmpty)
        let lateEarliest = try Self.consume(port: server.port, topic: topic, "read_committed", ["offset", "\(offsets.endOffset + 100)", "earliest"])
        #expect(lateEarliest.values(0) == remaining)
    }
}
