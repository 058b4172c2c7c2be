import BinaryIO
import Foundation
import Testing
@testable import SegmentLog

@Suite struct VerifierTests {
    let orders = try! TopicPartition(topic: "orders", partition: 0)

    func makeLog(_ dir: TemporaryDirectory) throws {
        var config = LogConfig()
        config.segmentBytes = 1200
        config.indexIntervalBytes = 150
        let writer = try LogWriter.open(directory: dir.path, config: config)
        for index in 0..<30 {
            try writer.beginTransaction()
            try writer.append([record("value-\(index)", lsn: UInt64(1000 + index), timestamp: 5000 + Int64(index))], to: orders)
            if index % 5 == 2 { try writer.abort() } else { try writer.commit(metadata: []) }
        }
        writer.close()
    }

    @Test func aHealthyLogVerifiesClean() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try makeLog(dir)
        let report = try LogVerifier.verify(directory: dir.path)
        #expect(report.findings.isEmpty, "\(report.findings)")
        #expect(report.partitions == 1)
        #expect(report.segments > 3)
        #expect(report.records == 30)
        #expect(report.commits == 24 && report.aborts == 6)
        #expect(report.commitRecords == 24)
    }

    @Test func progressCountsEverySegmentByteOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try makeLog(dir)
        var seen: [VerificationProgress] = []
        let report = try LogVerifier.verify(directory: dir.path) { seen.append($0) }
        let segmentBytes = try segmentLogs(dir.file("orders-0")).reduce(Int64(0)) { total, path in
            total + Int64(try #require(try FileIO.readFile(path)).count)
        }
        // One report before the first segment, then one per segment.
        #expect(seen.count == report.segments + 1)
        #expect(seen.first?.bytesDone == 0)
        #expect(seen.allSatisfy { $0.bytes == segmentBytes && $0.partitions == 1 })
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.bytesDone < $1.bytesDone })
        #expect(seen.last?.bytesDone == segmentBytes)
        #expect(seen.last?.current == "orders-0")
    }

    @Test func damageIsFoundAndLocated() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try makeLog(dir)
        let logs = try segmentLogs(dir.file("orders-0"))
        try patchFile(logs[1], at: 70, xor: 0x40)
        let indexPath = logs[2].replacingOccurrences(of: ".log", with: ".index")
        let index = try #require(try FileIO.readFile(indexPath))
        #expect(index.count >= 8)
        // Point the first offset index entry at a position that is not a batch start.
        try patchFile(indexPath, at: 7, xor: 0x01)
        try FileManager.default.removeItem(atPath: logs[3].replacingOccurrences(of: ".log", with: ".txnindex"))
        let report = try LogVerifier.verify(directory: dir.path)
        #expect(!report.isHealthy)
        #expect(report.errors.contains { $0.path == logs[1] && $0.message.contains("byte 0") })
        #expect(report.errors.contains { $0.path == indexPath })
        #expect(report.errors.contains { $0.path.hasSuffix(".txnindex") && $0.message.contains("missing") })
    }

    @Test func aTornTailIsAWarningNotAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try makeLog(dir)
        let last = try #require(try segmentLogs(dir.file("orders-0")).last)
        try truncateFile(last, to: try fileSize(last) - 3)
        let report = try LogVerifier.verify(directory: dir.path)
        #expect(report.isHealthy, "\(report.errors)")
        #expect(report.findings.contains { $0.severity == .warning && $0.message.contains("torn tail") })
    }

    @Test func inspectorListsEveryBatchWithMarkers() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try makeLog(dir)
        let first = try #require(try segmentLogs(dir.file("orders-0")).first)
        var lines: [String] = []
        var markers: [ControlType?] = []
        let damage = try SegmentInspector.inspect(segment: first, withRecords: true) { batch in
            lines.append(batch.header.dumpDescription(position: batch.position, crcValid: batch.crcValid))
            if batch.header.isControl { markers.append(batch.marker?.type) }
        }
        #expect(damage == nil)
        #expect(lines.first?.hasPrefix("baseOffset: 0 lastOffset: 0 count: 1 baseSequence: 0 lastSequence: 0 producerId: ") == true)
        #expect(lines.first?.contains("isTransactional: true isControl: false position: 0 CreateTime: 5000") == true)
        #expect(lines.first?.contains("compresscodec: zstd") == true)
        #expect(markers.prefix(3) == [.commit, .commit, .abort])
    }
}
