import Foundation
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `outflow serve` read by stock Kafka consumers: kafka-python (the pinned oracle venv) and
/// kcat (librdkafka). Each must get exactly the committed records in per-partition order in
/// read_committed, and the aborted ones too in read_uncommitted.
@Suite(.serialized) struct ServeCommandTests {
    static let topic = "events"

    /// What was written, per partition, in order.
    struct WrittenLog {
        var committed: [Int32: [String]] = [:]
        var everything: [Int32: [String]] = [:]
    }

    /// `events`, declared with 3 partitions of which partition 1 is never written: five
    /// transactions over partitions 0 and 2, the second and fourth aborted, and a sixth left
    /// open by `writer` (which the caller keeps open while the consumers read).
    static func writeLog(_ writer: LogWriter) throws -> WrittenLog {
        try writer.declareTopic(topic, partitionCount: 3)
        var written = WrittenLog()
        let plan: [(commit: Bool, partitions: [Int32: Int])] = [
            (true, [0: 2, 2: 1]), (false, [0: 1, 2: 2]), (true, [0: 3, 2: 2]), (false, [2: 1]), (true, [0: 1]), (false, [2: 2]),
        ]
        let open = plan.count - 1
        for (number, transaction) in plan.enumerated() {
            try writer.beginTransaction()
            for (partition, count) in transaction.partitions.sorted(by: { $0.key < $1.key }) {
                let values = (0..<count).map { "t\(number)-p\(partition)-r\($0)" }
                try writer.append(
                    values.map { Record(key: Array($0.utf8), value: Array($0.utf8), timestamp: 1_700_000_000_000 + Int64(number)) },
                    to: TopicPartition(topic: topic, partition: partition))
                written.everything[partition, default: []] += values
                if transaction.commit { written.committed[partition, default: []] += values }
            }
            if number == open { break }
            if transaction.commit { try writer.commit(metadata: []) } else { try writer.abort() }
        }
        return written
    }

    /// A running `outflow serve`, stopped with SIGTERM.
    final class Server {
        let process = Process()
        let port: Int
        let errorURL: URL

        /// `environment` is added to this process's (crash tests arm crash points with it).
        init(logDirectory: String, scratch: URL, arguments: [String] = [], environment: [String: String] = [:]) throws {
            let output = Pipe()
            errorURL = scratch.appendingPathComponent("serve.stderr")
            _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
            process.executableURL = try OutflowProcess.binary()
            process.arguments = ["serve", "--log", logDirectory, "--listen", "127.0.0.1:0", "--verbose"] + arguments
            process.standardOutput = output
            process.standardError = try FileHandle(forWritingTo: errorURL)
            process.standardInput = FileHandle.nullDevice
            if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
            try process.run()
            // The one line it prints names the port it picked.
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line += chunk
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let range = text.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                let port = Int(text[range].split(separator: ":").last!)
            else {
                process.terminate()
                throw MissingTestPrerequisite(description: "outflow serve did not say where it listens: \(text) \(try String(contentsOf: errorURL, encoding: .utf8))")
            }
            self.port = port
            #expect(text.contains("this machine only"))
        }

        /// Its standard error once `condition` holds of it: lines it prints from services that
        /// start beside the listener (the metrics endpoint) may come after the port line.
        func standardError(within seconds: Double = 30, until condition: (String) -> Bool) throws -> String {
            let deadline = Date().addingTimeInterval(seconds)
            while true {
                let text = try String(contentsOf: errorURL, encoding: .utf8)
                if condition(text) { return text }
                guard Date() < deadline, process.isRunning else { return text }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }

        /// Stops it; returns its exit status and standard error.
        func stop() throws -> (status: Int32, standardError: String) {
            process.terminate()
            process.waitUntilExit()
            return (process.terminationStatus, try String(contentsOf: errorURL, encoding: .utf8))
        }
    }

    static func withServer(arguments: [String] = [], _ body: (Server, WrittenLog, URL) throws -> Void) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let logDirectory = scratch.appendingPathComponent("log").path
        let writer = try LogWriter.open(directory: logDirectory)
        defer { writer.close() }
        let written = try writeLog(writer)
        let server = try Server(logDirectory: logDirectory, scratch: scratch, arguments: arguments)
        do { try body(server, written, scratch) } catch {
            let stopped = try? server.stop()
            print("outflow serve standard error:\n\(stopped?.standardError ?? "?")")
            throw error
        }
        let stopped = try server.stop()
        // The requests each client made, for the record (the server logs them with --verbose).
        print(stopped.standardError.split(separator: "\n").filter { $0.contains("Kafka request") }.map { $0.replacingOccurrences(of: #"^\S+ "#, with: "", options: .regularExpression) }.uniqued().joined(separator: "\n"))
        #expect(stopped.status == 0, "outflow serve exited \(stopped.status) on SIGTERM: \(stopped.standardError)")
    }

    @Test(arguments: ["read_committed", "read_uncommitted"])
    func kafkaPythonReadsExactlyTheVisibleRecords(isolation: String) throws {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
        }
        try Self.withServer { server, written, _ in
            let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/consume_endpoint.py").path
            let result = try OutflowProcess.run(executable: URL(fileURLWithPath: python), [script, "127.0.0.1:\(server.port)", Self.topic, isolation])
            #expect(result.status == 0, "kafka-python failed: \(result.standardError)")
            guard result.status == 0 else { return }
            struct Consumed: Decodable {
                var partitions: [Int32]
                var values: [String: [String]]
            }
            let consumed = try JSONDecoder().decode(Consumed.self, from: Data(result.standardOutput.utf8))
            #expect(consumed.partitions == [0, 1, 2])
            let expected = isolation == "read_committed" ? written.committed : written.everything
            #expect(consumed.values["0"] == expected[0])
            #expect(consumed.values["1"] == [])
            #expect(consumed.values["2"] == expected[2])
        }
    }

    @Test func serveCountsWhatItServesOnItsMetricsEndpointAndLogsInJSON() throws {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
        }
        try Self.withServer(arguments: ["--metrics-listen", "127.0.0.1:0", "--log-format", "json"]) { server, written, _ in
            let port = try #require(MetricsEndpointCommandTests.port(in: try server.standardError { MetricsEndpointCommandTests.port(in: $0) != nil }))
            let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/consume_endpoint.py").path
            let result = try OutflowProcess.run(executable: URL(fileURLWithPath: python), [script, "127.0.0.1:\(server.port)", Self.topic, "read_committed"])
            #expect(result.status == 0, "kafka-python failed: \(result.standardError)")
            let text = try MetricsEndpointCommandTests.get(port: port, path: "/metrics").body
            let samples = MetricsEndpointCommandTests.samples(text)
            // The fetches carried at least every committed record (aborted batches go too: the
            // consumer drops them itself).
            let committed = written.committed.values.reduce(0) { $0 + $1.count }
            #expect((samples["outflow_kafka_fetch_records_total"] ?? 0) >= Double(committed))
            #expect((samples["outflow_kafka_fetch_bytes_total"] ?? 0) > 0)
            #expect((samples["outflow_kafka_connections_accepted_total"] ?? 0) >= 1)
            #expect(text.contains(#"outflow_kafka_requests_total{api="Fetch"}"#) && text.contains(#"outflow_kafka_requests_total{api="Metadata"}"#))
            #expect(try MetricsEndpointCommandTests.get(port: port, path: "/ready").status == 200)
            // --log-format json: each request (logged at debug with --verbose) is one JSON object.
            let lines = try String(contentsOf: server.errorURL, encoding: .utf8).split(separator: "\n").filter { $0.contains("Kafka request") }
            #expect(!lines.isEmpty)
            for line in lines.prefix(5) {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["message"] as? String == "Kafka request" && object?["kafka.api"] != nil, "\(line)")
            }
        }
    }

    @Test func kafkaPythonCommitsAGroupsOffsetsWhereOutflowTailFindsThem() throws {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
        }
        try Self.withServer { server, written, scratch in
            let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/consume_endpoint.py").path
            func consume() throws -> [String: [String]] {
                let result = try OutflowProcess.run(
                    executable: URL(fileURLWithPath: python), [script, "127.0.0.1:\(server.port)", Self.topic, "read_committed", "billing"])
                guard result.status == 0 else { throw MissingTestPrerequisite(description: "kafka-python failed: \(result.standardError)") }
                struct Consumed: Decodable { var values: [String: [String]] }
                return try JSONDecoder().decode(Consumed.self, from: Data(result.standardOutput.utf8)).values
            }
            let first = try consume()
            #expect(first["0"] == written.committed[0] && first["2"] == written.committed[2])
            // The group's offsets are the log's own: past the last COMMIT marker of each partition.
            let log = scratch.appendingPathComponent("log").path
            let committed = try ConsumerGroups(logDirectory: log).committedOffsets(group: "billing")
            let reader = try LogReader(directory: log)
            for partition: Int32 in [0, 2] {
                let tp = try TopicPartition(topic: Self.topic, partition: partition)
                #expect(committed[tp] == (try reader.open(tp).lastStableOffset()))
            }
            // Resumed from the committed offsets: nothing new.
            #expect(try consume() == ["0": [], "1": [], "2": []])
            let tail = try OutflowProcess.run(["tail", "--log", log, "--group", "billing", "--format", "value"])
            #expect(tail.status == 0 && tail.standardOutput.isEmpty, "outflow tail --group billing: \(tail.standardOutput)\(tail.standardError)")
        }
    }

    @Test(arguments: ["read_committed", "read_uncommitted"])
    func kcatReadsExactlyTheVisibleRecords(isolation: String) throws {
        guard let kcat = OutflowProcess.which("kcat") else {
            throw MissingTestPrerequisite(description: "kcat is not installed: scripts/bootstrap installs it (Debian package kcat)")
        }
        try Self.withServer { server, written, _ in
            let result = try runWithDeadline(
                kcat,
                [
                    "-C", "-b", "127.0.0.1:\(server.port)", "-t", Self.topic, "-o", "beginning", "-e", "-q",
                    "-X", "isolation.level=\(isolation)", "-f", "%p %s\\n",
                ], seconds: 60)
            #expect(result.status == 0, "kcat failed: \(result.standardError)")
            var consumed: [Int32: [String]] = [:]
            for line in result.standardOutput.split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 1)
                guard fields.count == 2, let partition = Int32(fields[0]) else {
                    Issue.record("unexpected kcat line: \(line)")
                    continue
                }
                consumed[partition, default: []].append(String(fields[1]))
            }
            let expected = isolation == "read_committed" ? written.committed : written.everything
            #expect(consumed == expected)
        }
    }

    @Test func servingANonexistentLogFailsWithOneLine() throws {
        let result = try OutflowProcess.run(["serve", "--log", "/nonexistent/outflow-log", "--listen", "127.0.0.1:0"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("cannot open the log"))
    }
}

/// Runs `executable`, killing it if it has not exited after `seconds` (a consumer that never
/// reaches the end fails the test rather than hanging it).
func runWithDeadline(_ executable: URL, _ arguments: [String], seconds: Int) throws -> OutflowProcess.Result {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outputURL = scratch.appendingPathComponent("stdout"), errorURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: outputURL)
    process.standardError = try FileHandle(forWritingTo: errorURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(TimeInterval(seconds))
    // Waits on the child itself; the pause only paces the check of the deadline.
    while process.isRunning && Date() < deadline { usleep(20_000) }
    let timedOut = process.isRunning
    if timedOut { process.terminate() }
    process.waitUntilExit()
    let error = try String(contentsOf: errorURL, encoding: .utf8)
    return OutflowProcess.Result(
        status: timedOut ? -1 : process.terminationStatus, standardOutput: try String(contentsOf: outputURL, encoding: .utf8),
        standardError: timedOut ? "timed out after \(seconds) s\n" + error : error)
}

extension Sequence where Element: Hashable {
    func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}
