import Foundation
import SegmentLog
import Testing

/// `outflow tail` and `outflow log` as a user runs them, over a log written here.
@Suite struct TailAndLogCommandTests {
    /// Two topics, three partitions: committed, aborted and still-open transactions.
    struct SampleLog {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-tail-\(UUID().uuidString)")
        var path: String { directory.path }
        let orders0 = try! TopicPartition(topic: "orders.created", partition: 0)
        let orders1 = try! TopicPartition(topic: "orders.created", partition: 1)
        let customers = try! TopicPartition(topic: "customers", partition: 0)

        func record(_ value: String, lsn: String, key: String? = nil) -> Record {
            Record(key: key.map { Array($0.utf8) }, value: Array(value.utf8), headers: [RecordHeader(key: "outflow.lsn", text: lsn)], timestamp: 1_800_000_000_000)
        }

        /// Writes the log and returns the writer (its open transaction stays open until closed).
        func write() throws -> LogWriter {
            let writer = try LogWriter.open(directory: path)
            try writer.beginTransaction()
            _ = try writer.append([record(#"{"n": 1}"#, lsn: "0/100", key: "a"), record(#"{"n": 2}"#, lsn: "0/100", key: "a")], to: orders0)
            _ = try writer.append([record("plain text", lsn: "0/100", key: "b")], to: orders1)
            _ = try writer.commit(metadata: [])
            try writer.beginTransaction()
            _ = try writer.append([record(#"{"aborted": true}"#, lsn: "0/200")], to: orders0)
            try writer.abort()
            try writer.beginTransaction()
            _ = try writer.append([record(#"{"n": 3}"#, lsn: "0/300", key: "a")], to: orders0)
            _ = try writer.append([record(#"{"c": 1}"#, lsn: "0/300", key: "c")], to: customers)
            _ = try writer.commit(metadata: [])
            try writer.beginTransaction()
            _ = try writer.append([record(#"{"open": true}"#, lsn: "0/400")], to: orders1)
            return writer
        }
    }

    func jsonLines(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test func tailPrintsWhatKafkaPythonReadsCommitted() throws {
        let log = SampleLog()
        defer { try? FileManager.default.removeItem(at: log.directory) }
        let writer = try log.write()
        defer { writer.close() }

        let result = try OutflowProcess.run(["tail", "--log", log.path, "--topic", "orders.*", "--from-beginning", "--format", "json"])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = try jsonLines(result.standardOutput)
        #expect(Set(lines.compactMap { $0["topic"] as? String }) == ["orders.created"])
        // Values inline when JSON, strings otherwise; the lsn field from the header.
        #expect(lines.contains { ($0["value"] as? [String: Any])?["n"] as? Int == 1 && $0["lsn"] as? String == "0/100" })
        #expect(lines.contains { $0["value"] as? String == "plain text" && $0["key"] as? String == "b" })

        // The independent reader: kafka-python's read_committed over the same files.
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
        }
        let oracle = try OutflowProcess.run(
            executable: URL(fileURLWithPath: python), [OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/read_log.py").path, log.path])
        #expect(oracle.status == 0, "\(oracle.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(oracle.standardOutput.utf8)) as? [String: Any])
        let partitions = try #require(report["partitions"] as? [String: [String: Any]])
        for name in ["orders.created-0", "orders.created-1"] {
            let theirs = try #require(partitions[name]?["read_committed"] as? [[String: Any]]).compactMap { $0["offset"] as? Int }
            let ours = lines.filter { "\($0["topic"]!)-\($0["partition"]!)" == name }.compactMap { $0["offset"] as? Int }
            #expect(ours == theirs, "\(name)")
        }
        #expect(lines.count == 4)  // 3 + 1 committed; not the aborted one, not the open one
    }

    @Test func isolationLastNAndPositions() throws {
        let log = SampleLog()
        defer { try? FileManager.default.removeItem(at: log.directory) }
        let writer = try log.write()
        defer { writer.close() }

        let uncommitted = try OutflowProcess.run(["tail", "--log", log.path, "--from-beginning", "--isolation", "read_uncommitted", "--format", "value"])
        #expect(uncommitted.standardOutput.contains(#"{"aborted": true}"#) && uncommitted.standardOutput.contains(#"{"open": true}"#))

        let last = try OutflowProcess.run(["tail", "--log", log.path, "--topic", "orders.created", "--partition", "0", "-n", "1", "--format", "value"])
        #expect(last.standardOutput == "{\"n\": 3}\n")

        let fromLSN = try OutflowProcess.run(["tail", "--log", log.path, "--from-lsn", "0/300", "--format", "value"])
        #expect(Set(fromLSN.standardOutput.split(separator: "\n")) == [#"{"n": 3}"#, #"{"c": 1}"#])

        let bad = try OutflowProcess.run(["tail", "--log", log.path, "--from-lsn", "nope"])
        #expect(bad.status != 0)
    }

    @Test func followWakesOnNewDataAndStopsOnSIGINT() throws {
        let log = SampleLog()
        defer { try? FileManager.default.removeItem(at: log.directory) }
        let writer = try log.write()
        defer { writer.close() }
        let outputFile = log.directory.appendingPathComponent("tail.out")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let process = Process()
        process.executableURL = try OutflowProcess.binary()
        process.arguments = ["tail", "--log", log.path, "--topic", "customers", "-f", "--format", "value"]
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        try process.run()
        func output() throws -> String { try String(contentsOf: outputFile, encoding: .utf8) }
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while !(try output().contains(#"{"c": 1}"#)), ContinuousClock.now < deadline { usleep(20_000) }
        try writer.abort()
        try writer.beginTransaction()
        _ = try writer.append([log.record(#"{"c": 2}"#, lsn: "0/500")], to: log.customers)
        _ = try writer.commit(metadata: [])
        while !(try output().contains(#"{"c": 2}"#)), ContinuousClock.now < deadline { usleep(20_000) }
        #expect(try output().contains(#"{"c": 2}"#))
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test func verifyAndInspect() throws {
        let log = SampleLog()
        defer { try? FileManager.default.removeItem(at: log.directory) }
        try log.write().close()

        let verify = try OutflowProcess.run(["log", "verify", log.path])
        #expect(verify.status == 0, "\(verify.standardOutput)\(verify.standardError)")
        #expect(verify.standardOutput.contains("0 errors"))
        // Not a terminal: progress comes as plain lines on standard error, the first at once.
        #expect(verify.standardError.hasPrefix("verify: 0% (0 of "), "\(verify.standardError)")

        let segment = log.directory.appendingPathComponent("orders.created-0/00000000000000000000.log")
        let inspect = try OutflowProcess.run(["log", "inspect", segment.path])
        #expect(inspect.status == 0)
        #expect(inspect.standardOutput.contains("endTxnMarker: COMMIT") && inspect.standardOutput.contains("endTxnMarker: ABORT"))
        #expect(inspect.standardOutput.contains("compresscodec: zstd"))

        // One flipped byte inside the first batch: a clear error naming the file.
        var bytes = try Data(contentsOf: segment)
        bytes[70] ^= 0xFF
        try bytes.write(to: segment)
        let damaged = try OutflowProcess.run(["log", "verify", log.path])
        #expect(damaged.status != 0)
        #expect((damaged.standardOutput + damaged.standardError).contains("orders.created-0"))
    }

    @Test func aMultiLineJSONValueIsCompactedWithoutRoundingItsNumbers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-tail-json-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try LogWriter.open(directory: directory.path)
        try writer.beginTransaction()
        let pretty = "{\n  \"big\": 123456789012345678901234567890,\n  \"name\": \"é\"\n}"
        _ = try writer.append([Record(value: Array(pretty.utf8), timestamp: 0)], to: try TopicPartition(topic: "events", partition: 0))
        _ = try writer.commit(metadata: [])
        writer.close()
        let result = try OutflowProcess.run(["tail", "--log", directory.path, "--from-beginning", "--format", "json"])
        let lines = result.standardOutput.split(separator: "\n")
        try #require(lines.count == 1)
        #expect(lines[0].contains(#""value":{"big":123456789012345678901234567890,"name":"é"}"#))
    }

    @Test func internalTopicsOnlyWhenNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-tail-internal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try LogWriter.open(directory: directory.path)
        try writer.beginTransaction()
        _ = try writer.append([Record(value: Array("internal".utf8), timestamp: 0)], to: try TopicPartition(topic: "__changelog", partition: 0))
        _ = try writer.append([Record(value: Array("public".utf8), timestamp: 0)], to: try TopicPartition(topic: "events", partition: 0))
        _ = try writer.commit(metadata: [])
        writer.close()
        let all = try OutflowProcess.run(["tail", "--log", directory.path, "--from-beginning", "--format", "value"])
        #expect(all.standardOutput == "public\n")
        let named = try OutflowProcess.run(["tail", "--log", directory.path, "--topic", "__changelog", "--from-beginning", "--format", "value"])
        #expect(named.standardOutput == "internal\n")
    }
}
