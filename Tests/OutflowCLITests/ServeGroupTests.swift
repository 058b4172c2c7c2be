import Foundation
import SegmentLog
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Consumer groups through `outflow serve` with stock clients: members that subscribe() share
/// a topic's partitions, and when one leaves another takes its partitions over from the
/// group's committed offsets.
@Suite(.serialized) struct ServeGroupTests {
    static let topic = "orders"
    static let partitionCount: Int32 = 4

    /// Appends, to every partition, `perPartition` records in two committed transactions with
    /// an aborted one between them; returns the committed values per partition, in order.
    static func writePhase(_ name: String, to writer: LogWriter, perPartition: Int) throws -> (committed: [Int32: [String]], aborted: Set<String>) {
        var committed: [Int32: [String]] = [:]
        var aborted: Set<String> = []
        let halves = [(0..<perPartition / 2, true), (0..<1, false), (perPartition / 2..<perPartition, true)]
        for (number, (range, commit)) in halves.enumerated() {
            try writer.beginTransaction()
            for partition in 0..<partitionCount {
                let values = range.map { "\(name)-p\(partition)-\(commit ? "r\($0)" : "aborted\(number)")" }
                try writer.append(
                    values.map { Record(key: Array($0.utf8), value: Array($0.utf8), timestamp: 1_700_000_000_000) },
                    to: TopicPartition(topic: topic, partition: partition))
                if commit { committed[partition, default: []] += values } else { aborted.formUnion(values) }
            }
            if commit { try writer.commit(metadata: []) } else { try writer.abort() }
        }
        return (committed, aborted)
    }

    /// `Tests/Oracle/group_consumer.py` running: what it has said so far, line by line.
    final class GroupConsumer: @unchecked Sendable {
        let name: String
        let process = Process()
        private let input = Pipe()
        private let lock = NSLock()
        private var pending = Data()
        private var events: [[String: Any]] = []
        let errorURL: URL

        struct Sighting: Hashable {
            var partition: Int32
            var offset: Int64
            var value: String
            var committed: Bool
        }

        init(python: String, client: String, bootstrap: String, group: String, name: String, scratch: URL) throws {
            self.name = name
            errorURL = scratch.appendingPathComponent("\(name).stderr")
            _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
            let output = Pipe()
            process.executableURL = URL(fileURLWithPath: python)
            let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/group_consumer.py").path
            process.arguments = [script, client, bootstrap, ServeGroupTests.topic, group, name]
            process.standardOutput = output
            process.standardInput = input
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

        private var snapshot: [[String: Any]] {
            lock.lock()
            defer { lock.unlock() }
            return events
        }

        /// Its latest assignment; nil before the first.
        var assigned: Set<Int32>? {
            snapshot.last { $0["assigned"] != nil }.flatMap { ($0["assigned"] as? [Int]).map { Set($0.map(Int32.init)) } }
        }

        var closed: Bool { snapshot.contains { $0["closed"] != nil } }

        var sightings: [Sighting] {
            snapshot.flatMap { event -> [Sighting] in
                guard let records = event["records"] as? [[Any]], let committed = event["committed"] as? Bool else { return [] }
                return records.compactMap { record in
                    guard record.count == 3, let partition = record[0] as? Int, let offset = record[1] as? Int, let value = record[2] as? String else { return nil }
                    return Sighting(partition: Int32(partition), offset: Int64(offset), value: value, committed: committed)
                }
            }
        }

        func send(_ line: String) {
            input.fileHandleForWriting.write(Data((line + "\n").utf8))
        }

        func stop() -> String {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        }
    }

    /// Checks `condition` every 20 ms until it holds, failing after `seconds`: the consumers'
    /// output is what is waited for; the pause only paces the checks.
    static func wait(_ what: String, seconds: Double = 60, _ consumers: [GroupConsumer], until condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if let exited = consumers.first(where: { !$0.process.isRunning && !$0.closed }) {
                throw TestFailure("consumer \(exited.name) exited while waiting until \(what): \(exited.stop())")
            }
            guard Date() < deadline else { throw TestFailure("timed out waiting until \(what)") }
            usleep(20_000)
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// kcat's balanced consumer (-G, Debian's librdkafka): joins, gets every partition, reads
    /// them to the end and commits; the same group again has nothing left to read.
    @Test func kcatsBalancedConsumerReadsThroughTheGroup() throws {
        guard let kcat = OutflowProcess.which("kcat") else {
            throw MissingTestPrerequisite(description: "kcat is not installed: scripts/bootstrap installs it (Debian package kcat)")
        }
        try ServeCommandTests.withServer { server, written, scratch in
            func consume() throws -> [Int32: [String]] {
                let result = try runWithDeadline(
                    kcat,
                    [
                        "-b", "127.0.0.1:\(server.port)", "-G", "kcat-group", ServeCommandTests.topic, "-e", "-q", "-f", "%p %s\\n",
                        "-X", "isolation.level=read_committed", "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
                    ], seconds: 60)
                #expect(result.status == 0, "kcat -G failed: \(result.standardError)")
                var consumed: [Int32: [String]] = [:]
                for line in result.standardOutput.split(separator: "\n") {
                    let fields = line.split(separator: " ", maxSplits: 1)
                    if fields.count == 2, let partition = Int32(fields[0]) { consumed[partition, default: []].append(String(fields[1])) }
                }
                return consumed
            }
            #expect(try consume() == written.committed)
            let committed = try ConsumerGroups(logDirectory: scratch.appendingPathComponent("log").path).committedOffsets(group: "kcat-group")
            #expect(!committed.isEmpty, "kcat committed nothing")
            #expect(try consume() == [:])
        }
    }

    @Test(arguments: ["kafka-python", "confluent-kafka"])
    func twoConsumersShareTheGroupAndOneTakesOverWhenTheOtherLeaves(client: String) throws {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python and confluent-kafka that `make test` creates")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-serve-group-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let logDirectory = scratch.appendingPathComponent("log").path
        let writer = try LogWriter.open(directory: logDirectory)
        defer { writer.close() }
        try writer.declareTopic(Self.topic, partitionCount: Self.partitionCount)
        let first = try Self.writePhase("first", to: writer, perPartition: 6)

        let server = try ServeCommandTests.Server(logDirectory: logDirectory, scratch: scratch)
        var consumers: [GroupConsumer] = []
        do {
            let bootstrap = "127.0.0.1:\(server.port)"
            let a = try GroupConsumer(python: python, client: client, bootstrap: bootstrap, group: "billing", name: "consumer-a", scratch: scratch)
            consumers.append(a)
            let b = try GroupConsumer(python: python, client: client, bootstrap: bootstrap, group: "billing", name: "consumer-b", scratch: scratch)
            consumers.append(b)
            let everyPartition = Set(0..<Self.partitionCount)
            func values(_ consumers: [GroupConsumer]) -> Set<String> { Set(consumers.flatMap(\.sightings).map(\.value)) }
            let firstValues = Set(first.committed.values.joined())

            // Both members, each with a disjoint, non-empty share, and between them everything.
            try Self.wait("the two members share the partitions and have read the first phase", consumers) {
                guard let mine = a.assigned, let theirs = b.assigned else { return false }
                return !mine.isEmpty && !theirs.isEmpty && mine.isDisjoint(with: theirs) && mine.union(theirs) == everyPartition
                    && values([a, b]).isSuperset(of: firstValues)
            }
            let shareOfB = try #require(b.assigned)
            #expect(!b.sightings.filter { shareOfB.contains($0.partition) }.isEmpty, "b read nothing of its share \(shareOfB)")

            // b leaves; a takes every partition over, from where the group's commits say.
            b.send("close")
            try Self.wait("b has left", consumers) { b.closed }
            try Self.wait("a holds every partition", consumers) { a.assigned == everyPartition }
            let second = try Self.writePhase("second", to: writer, perPartition: 4)
            let secondValues = Set(second.committed.values.joined())
            try Self.wait("a has read the second phase", consumers) { values([a]).isSuperset(of: secondValues) }
            a.send("close")
            try Self.wait("a has left", consumers) { a.closed }

            // Everything committed, in each partition's order; nothing aborted; a record read
            // twice only where its first reading was not committed (a rebalance came between).
            let sightings = a.sightings + b.sightings
            #expect(values([a, b]).isDisjoint(with: first.aborted.union(second.aborted)))
            for partition in 0..<Self.partitionCount {
                let expected = (first.committed[partition] ?? []) + (second.committed[partition] ?? [])
                let seen = Dictionary(sightings.filter { $0.partition == partition }.map { ($0.offset, $0.value) }, uniquingKeysWith: { first, second in
                    #expect(first == second, "two values at one offset of partition \(partition)")
                    return first
                })
                #expect(seen.sorted { $0.key < $1.key }.map(\.value) == expected, "partition \(partition)")
            }
            for (value, count) in Dictionary(sightings.filter(\.committed).map { ($0.value, 1) }, uniquingKeysWith: +) where count > 1 {
                Issue.record("\(value) was read and committed \(count) times")
            }
            // The group's offsets, in the log directory: past the last record of each
            // partition (past its COMMIT marker too when the client has skipped that).
            let committed = try ConsumerGroups(logDirectory: logDirectory).committedOffsets(group: "billing")
            let reader = try LogReader(directory: logDirectory)
            for partition in 0..<Self.partitionCount {
                let tp = try TopicPartition(topic: Self.topic, partition: partition)
                let lastRead = sightings.filter { $0.partition == partition }.map(\.offset).max() ?? -1
                let end = try reader.open(tp).lastStableOffset()
                #expect(committed[tp].map { $0 > lastRead && $0 <= end } == true, "committed offset of \(tp): \(committed[tp] ?? -1), last read \(lastRead), end \(end)")
            }
        } catch {
            for consumer in consumers { print("\(consumer.name) standard error:\n\(consumer.stop())") }
            let stopped = try? server.stop()
            print("outflow serve standard error:\n\(stopped?.standardError ?? "?")")
            throw error
        }
        for consumer in consumers { _ = consumer.stop() }
        let stopped = try server.stop()
        let log = stopped.standardError
        #expect(stopped.status == 0, "outflow serve exited \(stopped.status): \(log)")
        #expect(log.contains("consumer group rebalanced"), "\(log)")
        print(log.split(separator: "\n").filter { $0.contains("Kafka request") || $0.contains("consumer group") }
            .map { $0.replacingOccurrences(of: #"^\S+ "#, with: "", options: .regularExpression) }.uniqued().joined(separator: "\n"))
    }
}
