import BinaryIO
import Foundation
import Logging
import Testing
@testable import SegmentLog

/// Runs the Python oracle scripts (kafka-python 3.0.12 + zstandard 0.25.0) with the
/// interpreter named by OUTFLOW_ORACLE_PYTHON, which `make test` provides.
enum Oracle {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Oracle")

    static func python() throws -> String {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw Failure(description: """
                OUTFLOW_ORACLE_PYTHON is not set. Run `make test`: it creates the oracle venv \
                (kafka-python 3.0.12, zstandard 0.25.0) and points OUTFLOW_ORACLE_PYTHON at its python.
                """)
        }
        return python
    }

    /// Runs a script; its stdout parsed as JSON. A non-zero exit is a failure with its stderr.
    static func run(_ script: String, _ arguments: [String]) throws -> Any {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python())
        process.arguments = [scripts.appendingPathComponent(script).path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(script) exited \(process.terminationStatus): \(String(decoding: stderr, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: stdout)
    }
}

/// A record as both sides print it: hex bytes, headers as [key, hex] pairs.
struct ComparableRecord: Hashable, CustomStringConvertible {
    var offset: Int64
    var timestamp: Int64
    var key: String?
    var value: String?
    var headers: [[String?]]

    init(_ stored: StoredRecord) {
        offset = stored.offset
        timestamp = stored.timestamp
        key = stored.key.map(Self.hex)
        value = stored.value.map(Self.hex)
        headers = stored.headers.map { [$0.key, $0.value.map(Self.hex)] }
    }

    init(json: [String: Any]) {
        offset = (json["offset"] as! NSNumber).int64Value
        timestamp = (json["timestamp"] as! NSNumber).int64Value
        key = json["key"] as? String
        value = json["value"] as? String
        headers = (json["headers"] as! [[Any]]).map { [$0[0] as? String, $0[1] as? String] }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    var description: String { "\(offset)@\(timestamp) \(value ?? "null")" }
}

@Suite struct OracleTests {
    @Test func kafkaPythonReadsEverySegmentAndAgreesOnBothIsolationLevels() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = LogConfig()
        config.segmentBytes = 3000
        config.indexIntervalBytes = 300
        let writer = try LogWriter.open(directory: dir.path, config: config)
        let tps = try [TopicPartition(topic: "orders", partition: 0), TopicPartition(topic: "orders.v2", partition: 5)]
        var random = SeededGenerator(seed: 2024)
        var markers: [TopicPartition: [String]] = [:]
        // What the test wrote, by outcome: the values each isolation level must show, in order.
        var committedValues: [TopicPartition: [String?]] = [:]
        var writtenValues: [TopicPartition: [String?]] = [:]
        for transaction in 0..<40 {
            try writer.beginTransaction()
            var touched: Set<TopicPartition> = []
            var pending: [TopicPartition: [String?]] = [:]
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let tp = tps.randomElement(using: &random)!
                touched.insert(tp)
                let records = (0..<Int.random(in: 1...6, using: &random)).map { index in
                    Record(
                        key: index % 3 == 0 ? nil : bytes("key-\(transaction)-\(index)"),
                        value: index % 5 == 4 ? nil : bytes("{\"transaction\": \(transaction), \"row\": \(index), \"pad\": \"\(String(repeating: "p", count: index * 40))\"}"),
                        headers: [
                            RecordHeader(key: SourcePosition.headerKey, text: SourcePosition.format(UInt64(transaction) << 20)),
                            RecordHeader(key: "outflow.event", value: index % 2 == 0 ? nil : [0, 1, 2, 255]),
                        ],
                        timestamp: 1_700_000_000_000 + Int64(transaction * 10 + index))
                }
                try writer.append(records, to: tp)
                pending[tp, default: []] += records.map { $0.value.map(ComparableRecord.hex) }
            }
            let outcome = transaction % 6 == 2 ? "ABORT" : "COMMIT"
            if outcome == "ABORT" { try writer.abort() } else { try writer.commit(metadata: [UInt8(transaction)]) }
            for tp in touched { markers[tp, default: []].append(outcome) }
            for (tp, values) in pending {
                writtenValues[tp, default: []] += values
                if outcome == "COMMIT" { committedValues[tp, default: []] += values }
            }
        }
        // An open transaction at the end: read_committed must stop before it.
        try writer.beginTransaction()
        try writer.append([Record(value: bytes("still open"), timestamp: 1_800_000_000_000)], to: tps[0])
        writtenValues[tps[0], default: []].append(ComparableRecord.hex(bytes("still open")))

        let result = try #require(try Oracle.run("read_log.py", [dir.path]) as? [String: Any])
        #expect((result["errors"] as? [String])?.isEmpty == true)
        let partitions = try #require(result["partitions"] as? [String: [String: Any]])
        #expect(Set(partitions.keys) == Set(tps.map(\.directoryName)))
        // One commit record per COMMIT, in the Kafka-format __transactions log.
        #expect((result["commit_records"] as? Int) == 40 - 7)
        for tp in tps {
            let report = try #require(partitions[tp.directoryName])
            let segments = try #require(report["segments"] as? [[String: Any]])
            #expect(segments.count > 1, "\(tp) should span several segments")
            let batches = segments.flatMap { $0["batches"] as! [[String: Any]] }
            #expect(batches.allSatisfy { $0["crc_ok"] as? Bool == true })
            let data = batches.filter { $0["is_control"] as? Bool == false }
            #expect(data.allSatisfy { ($0["compression_type"] as? Int) == 4 && ($0["is_transactional"] as? Bool) == true })
            #expect(data.allSatisfy { ($0["producer_id"] as? NSNumber)?.int64Value == writer.producer.producerId })
            let controlTypes = batches.compactMap { $0["control_type"] as? String }
            #expect(controlTypes == markers[tp])

            let reader = try LogReader(directory: dir.path)
            for (isolation, key) in [(IsolationLevel.readCommitted, "read_committed"), (.readUncommitted, "read_uncommitted")] {
                let partitionReader = try reader.open(tp, isolation: isolation)
                var ours: [ComparableRecord] = []
                while case let polled = try partitionReader.poll(), !polled.isEmpty { ours += polled.map(ComparableRecord.init) }
                let theirs = try #require(report[key] as? [[String: Any]]).map(ComparableRecord.init(json:))
                #expect(ours == theirs, "\(tp) \(key)")
                // Both readers against what was written and how each transaction ended, not
                // only against each other (they could share a wrong transaction index).
                let wanted = isolation == .readCommitted ? committedValues[tp] ?? [] : writtenValues[tp] ?? []
                #expect(theirs.map(\.value) == wanted, "\(tp) \(key): not what the test committed")
                #expect(!ours.isEmpty)
            }
            let lso = (report["last_stable_offset"] as? NSNumber)?.int64Value
            #expect(try reader.open(tp).lastStableOffset() == lso)
        }
        writer.close()
    }

    @Test func outflowReadsBatchesKafkaPythonBuilt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batchFile = dir.file("kafka-python.log")
        let expected = try #require(try Oracle.run("build_batches.py", [batchFile]) as? [[String: Any]])
        let data = try #require(try FileIO.readFile(batchFile))
        // Decode batch by batch straight from the bytes.
        var position = 0
        var decoded: [StoredRecord] = []
        var batches: [RecordBatch] = []
        while position < data.count {
            let header = try BatchHeader.parse(data, at: position)
            let batch = try BatchCodec.decodeBatch(Array(data[position..<position + header.sizeInBytes]))
            batches.append(batch)
            decoded += try batch.records()
            position += header.sizeInBytes
        }
        #expect(decoded.map(ComparableRecord.init) == expected.map(ComparableRecord.init(json:)))
        #expect(batches.map(\.header.compression) == [.zstd, CompressionCodec.none, .zstd])
        #expect(batches[2].header.isTransactional && batches[2].header.producerId == 4242 && batches[2].header.producerEpoch == 7)
        // And through a partition and its reader (offsets reassigned, CRC still valid).
        let log = try PartitionLog.open(path: dir.file("imported-0"), config: LogConfig(), logger: .init(label: "test"))
        for batch in batches { _ = try log.appendRaw(batch.bytes) }
        try log.sync()
        let reader = try PartitionReader(
            directory: dir.file("imported-0"), topicPartition: try TopicPartition(topic: "imported", partition: 0),
            isolation: .readUncommitted, limits: .default)
        var read: [StoredRecord] = []
        while case let polled = try reader.poll(), !polled.isEmpty { read += polled }
        #expect(read.map(ComparableRecord.init) == expected.map(ComparableRecord.init(json:)))
    }
}
