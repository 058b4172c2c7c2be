import Foundation
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

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

    /// librdkafka asks for every topic (`list_topics()`, regex subscriptions) with a Metadata
    /// request whose topic count is padded with three zero bytes; the endpoint answers it.
    @Test func confluentKafkaListsEveryTopic() throws {
        let python = try Self.python()
        try ServeCommandTests.withServer { server, _, _ in
            let script = """
                import sys
                from confluent_kafka.admin import AdminClient
                metadata = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=20)
                print(" ".join(sorted(metadata.topics)))
                """
            let result = try runWithDeadline(URL(fileURLWithPath: python), ["-c", script, "127.0.0.1:\(server.port)"], seconds: 60)
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.contains(ServeCommandTests.topic))
        }
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

    /// With room for less than a batch per response and over all connections, every fetch
    /// still carries one batch: the consumer gets everything, a batch at a time. A connection
    /// past the limit is refused with a log line.
    @Test func tightMemoryBoundsTrimFetchesButConsumersProgress() throws {
        try ServeCommandTests.withServer(arguments: ["--max-fetch-bytes", "1", "--max-fetch-bytes-in-flight", "1", "--max-connections", "3"]) { server, written, _ in
            let consumed = try Self.consume(port: server.port, topic: ServeCommandTests.topic, "read_committed", ["beginning"])
            #expect(consumed.errors.isEmpty, "\(consumed.errors)")
            for partition: Int32 in [0, 1, 2] {
                #expect(consumed.values(partition) == written.committed[partition] ?? [], "partition \(partition)")
            }
            // Three connections held open, each answering (the consumer's own may take a moment
            // to be counted out); the fourth is closed as it arrives, and said so.
            let held = try (0..<3).map { _ in try ServeConfluentTests.answeringConnection(port: server.port) }
            defer { held.forEach { close($0) } }
            let refused = try ServeConfluentTests.connect(port: server.port)
            defer { close(refused) }
            var byte: UInt8 = 0
            #expect(recv(refused, &byte, 1, 0) <= 0, "the connection past the limit was not closed")
            let deadline = Date().addingTimeInterval(10)
            while !((try? String(contentsOf: server.errorURL, encoding: .utf8)) ?? "").contains("refused a Kafka client connection: too many open") {
                guard Date() < deadline else {
                    Issue.record("no log line for the refused connection")
                    break
                }
                usleep(20_000)
            }
        }
    }

    /// A connection that has answered an ApiVersions v0 request, retried while the endpoint
    /// closes new ones (it is at its limit until closed connections are counted out).
    static func answeringConnection(port: Int) throws -> Int32 {
        // size 10: api key 18, version 0, correlation id 1, no client id.
        let request: [UInt8] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF]
        let deadline = Date().addingTimeInterval(10)
        while true {
            let descriptor = try connect(port: port)
            var answer = [UInt8](repeating: 0, count: 4)
            if send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count && recv(descriptor, &answer, 4, Int32(MSG_WAITALL)) == 4 {
                return descriptor
            }
            close(descriptor)
            guard Date() < deadline else { throw MissingTestPrerequisite(description: "no connection to port \(port) was answered") }
            usleep(20_000)
        }
    }

    /// A plain TCP connection to the endpoint, reads timing out after 10 s.
    static func connect(port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw MissingTestPrerequisite(description: "connect to port \(port): errno \(errno)") }
        return descriptor
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
