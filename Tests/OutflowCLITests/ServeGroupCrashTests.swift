import FaultInjection
import Foundation
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `outflow serve` killed while a consumer group commits offsets in a loop: at each of the
/// endpoint's crash points in the offset commit (before the write, with the new offsets only in
/// the fsynced temporary file, after the atomic replace before the answer), as a kill and as a
/// power loss. After each, the group's offsets on disk are whole and are what the consumer last
/// had acknowledged or the commit it had in flight — never torn, never ahead of what it asked
/// for; a restarted endpoint lets a consumer of the group resume there with nothing lost.
@Suite(.serialized) struct ServeGroupCrashTests {
    /// The points this test arms (`CrashTests.theCampaignArmsEveryCrashPoint` counts them).
    static let crashPoints = ["endpoint.offsets.before-write", "endpoint.offsets.after-temp-write", "endpoint.offsets.after-replace"]
    static let group = "crash-group"

    /// `Tests/Oracle/group_commit_loop.py` running: what it has said so far.
    final class CommitLoop: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var pending = Data()
        private var events: [[String: Any]] = []
        let errorURL: URL

        init(python: String, port: Int, maxRecords: Int, idleSeconds: Double, scratch: URL) throws {
            errorURL = scratch.appendingPathComponent("commit-loop-\(UUID().uuidString).stderr")
            _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
            let output = Pipe()
            process.executableURL = URL(fileURLWithPath: python)
            let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/group_commit_loop.py").path
            process.arguments = [script, "127.0.0.1:\(port)", ServeGroupTests.topic, ServeGroupCrashTests.group, "\(maxRecords)", "\(idleSeconds)"]
            process.standardOutput = output
            process.standardInput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: errorURL)
            output.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { self?.received(data) }
            }
            try process.run()
        }

        private func received(_ data: Data) {
            lock.lock()
            defer { lock.unlock() }
            pending += data
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[(newline + 1)...])
                if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] { events.append(object) }
            }
        }

        var snapshot: [[String: Any]] {
            lock.lock()
            defer { lock.unlock() }
            return events
        }

        static func offsets(_ value: Any?) -> [Int32: Int64] {
            guard let object = value as? [String: Any] else { return [:] }
            var offsets: [Int32: Int64] = [:]
            for (key, value) in object { if let partition = Int32(key), let offset = value as? Int { offsets[partition] = Int64(offset) } }
            return offsets
        }

        /// Per partition, the last offset the endpoint acknowledged, and the commit asked for
        /// and not answered (at most one: the consumer commits synchronously).
        var commits: (acknowledged: [Int32: Int64], inFlight: [Int32: Int64]) {
            var acknowledged: [Int32: Int64] = [:]
            var inFlight: [Int32: Int64] = [:]
            for event in snapshot {
                if event["committing"] != nil { inFlight = Self.offsets(event["committing"]) }
                if event["committed"] != nil {
                    acknowledged.merge(Self.offsets(event["committed"])) { $1 }
                    inFlight = [:]
                }
                if event["failed"] != nil { inFlight = [:] }
            }
            return (acknowledged, inFlight)
        }

        /// Every record it read: partition, offset, value.
        var records: [(partition: Int32, offset: Int64, value: String)] {
            snapshot.flatMap { event -> [(partition: Int32, offset: Int64, value: String)] in
                guard let records = event["records"] as? [[Any]] else { return [] }
                return records.compactMap { record in
                    guard record.count == 3, let partition = record[0] as? Int, let offset = record[1] as? Int, let value = record[2] as? String else { return nil }
                    return (Int32(partition), Int64(offset), value)
                }
            }
        }

        var idle: Bool { snapshot.contains { $0["idle"] != nil } }

        func kill() -> String {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        }
    }

    @Test func killedWhileAGroupCommitsTheOffsetsReadBackAreOnesTheConsumerCommitted() throws {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-serve-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let logDirectory = scratch.appendingPathComponent("log").path
        var committedValues: [Int32: [String]] = [:]
        /// More records for the next consumer: enough for the armed occurrence of the point.
        func writeMore(_ name: String) throws {
            let writer = try LogWriter.open(directory: logDirectory)
            try writer.declareTopic(ServeGroupTests.topic, partitionCount: ServeGroupTests.partitionCount)
            committedValues.merge(try ServeGroupTests.writePhase(name, to: writer, perPartition: 150).committed) { $0 + $1 }
            #expect(writer.closeCleanly())
        }
        let groups = ConsumerGroups(logDirectory: logDirectory)
        func durable() throws -> [Int32: Int64] {
            // Whole or the previous version: a torn file would not parse and throw here.
            Dictionary(uniqueKeysWithValues: try groups.committedOffsets(group: Self.group).map { ($0.key.partition, $0.value) })
        }

        var seen: [Int32: Set<String>] = [:]
        var generator = SystemRandomNumberGenerator()
        for (index, point) in (Self.crashPoints + Self.crashPoints).enumerated() {
            let powerLoss = index >= Self.crashPoints.count
            try writeMore("c\(index)")
            // Each commit of 25 records or fewer passes the point once: 600 new records are
            // at least 24 commits.
            var environment = ["OUTFLOW_CRASH_AT": "\(point):\(Int.random(in: 3...20, using: &generator))"]
            if powerLoss { environment["OUTFLOW_FAULT_POWER_LOSS"] = "1" }
            let before = try durable()
            let server = try ServeCommandTests.Server(logDirectory: logDirectory, scratch: scratch, environment: environment)
            let consumer = try CommitLoop(python: python, port: server.port, maxRecords: 25, idleSeconds: 0, scratch: scratch)
            let deadline = ContinuousClock.now.advanced(by: .seconds(60))
            while server.process.isRunning && consumer.process.isRunning && ContinuousClock.now < deadline {
                usleep(20_000)  // polling for the crash, bounded by the deadline
            }
            let consumerError = consumer.kill()
            if server.process.isRunning {
                let (_, output) = try server.stop()
                Issue.record("\(point): outflow serve did not crash within 60 s (consumer: \(consumerError)): \(output)")
                return
            }
            server.process.waitUntilExit()
            let output = try String(contentsOf: server.errorURL, encoding: .utf8)
            #expect(server.process.terminationReason == .uncaughtSignal && server.process.terminationStatus == SIGABRT, "\(point): \(output)")
            #expect(output.contains("crash point \(point)"), "\(output)")
            if powerLoss { #expect(output.contains("power loss simulated"), "\(output)") }

            let (acknowledged, inFlight) = consumer.commits
            #expect(!acknowledged.isEmpty, "\(point): no commit was acknowledged before the crash")
            let after = try durable()
            for partition in Set(after.keys).union(acknowledged.keys).union(inFlight.keys) {
                var allowed: Set<Int64?> = [acknowledged[partition] ?? before[partition]]
                if let asked = inFlight[partition] { allowed.insert(asked) }
                #expect(allowed.contains(after[partition]), "\(point) (power loss: \(powerLoss)) partition \(partition): \(after[partition].map(String.init) ?? "none") on disk, acknowledged \(acknowledged[partition].map(String.init) ?? "none"), in flight \(inFlight[partition].map(String.init) ?? "none")")
            }
            // Where the crash came before the write, the asked-for offsets must not be there.
            if point == "endpoint.offsets.before-write" {
                for (partition, asked) in inFlight where asked != acknowledged[partition] ?? before[partition] { #expect(after[partition] != asked) }
            }
            for record in consumer.records { seen[record.partition, default: []].insert(record.value) }
            func text(_ offsets: [Int32: Int64]) -> String { offsets.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ") }
            print("serve-crash | \(point)\(powerLoss ? " (power loss)" : "") | acknowledged \(text(acknowledged)) | in flight \(text(inFlight)) | on disk \(text(after))")
        }

        // A clean endpoint: the group resumes from its committed offsets and reads to the end.
        let resumeFrom = try durable()
        let server = try ServeCommandTests.Server(logDirectory: logDirectory, scratch: scratch)
        defer { _ = try? server.stop() }
        let consumer = try CommitLoop(python: python, port: server.port, maxRecords: 500, idleSeconds: 4, scratch: scratch)
        let deadline = ContinuousClock.now.advanced(by: .seconds(90))
        while consumer.process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }  // polling for its exit, bounded
        let consumerError = consumer.kill()
        try #require(consumer.idle, "the resuming consumer did not read to the end: \(consumerError)")
        let reader = try LogReader(directory: logDirectory)
        for partition in 0..<ServeGroupTests.partitionCount {
            let tp = try TopicPartition(topic: ServeGroupTests.topic, partition: partition)
            var stored: [(offset: Int64, value: String)] = []
            let committed = try reader.open(tp, isolation: .readCommitted)
            while case let records = try committed.poll(maxRecords: 5000), !records.isEmpty {
                stored += records.map { ($0.offset, String(decoding: $0.value ?? [], as: UTF8.self)) }
            }
            let resumed = consumer.records.filter { $0.partition == partition }
            // It starts exactly at the committed offset: the first committed record at or after it.
            let expectedFirst = stored.first { $0.offset >= (resumeFrom[partition] ?? 0) }
            #expect(resumed.first?.offset == expectedFirst?.offset, "partition \(partition) resumed at \(resumed.first?.offset ?? -1), committed \(resumeFrom[partition] ?? -1)")
            for record in resumed { seen[partition, default: []].insert(record.value) }
            #expect(seen[partition] ?? [] == Set(committedValues[partition] ?? []), "partition \(partition): records lost across the crashes")
            #expect(try durable()[partition] == (stored.last.map { $0.offset + 1 }), "partition \(partition): the final commit is past the last record")
        }
    }
}
