import Foundation
import SegmentLog

// outflow-bench log-recompress DIR [RECORDS] [LEVEL] [SEGMENT_MIB]
//
// Sealed-segment recompression against zstd -3 of the values, and its effect on appending:
//  1. writes RECORDS outbox-like values (default 200000, the log-micro generator) through a
//     LogWriter at zstd level 3, batches of 2000, transactions of about 4 MiB, segments of
//     SEGMENT_MIB MiB (default 4), each commit fsynced: the baseline append rate and commit
//     latencies;
//  2. opens the log again with `recompression` at LEVEL (default 19, half a core, the
//     background thread as `outflow run` has it) and appends RECORDS more values the same way
//     while the sealed segments of step 1 are recompressed beside it: the same figures, and
//     whether the recompression was still running when the appends ended;
//  3. waits for the recompression to finish, and writes the values of the records in sealed
//     segments, concatenated, to DIR/sealed-values.bin (for `zstd -3`).
// Prints `key value` lines: sealed_bytes_before, sealed_bytes_after, sealed_value_bytes,
// recompress_s (wall time of the background work), append_mb_s / commit_p50_ms /
// commit_p99_ms for both steps (suffix _alone and _beside), busy_at_end (1 when the background
// thread still had work when step 2's appends ended).
func logRecompress(directory: String, count: Int, level: Int32, segmentMiB: Int) throws {
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let logDirectory = directory + "/log"
    var random = SplitMix64(state: 42)
    let baseTime: Int64 = 1_780_000_000_000
    let tp = try TopicPartition(topic: "bench", partition: 0)
    var config = LogConfig()
    config.zstdLevel = 3
    config.segmentBytes = Int64(segmentMiB) << 20
    config.retentionMilliseconds = nil

    func appendAll(_ writer: LogWriter, from first: Int) throws -> (mbPerSecond: Double, commits: [Double]) {
        let records = (first..<first + count).map { Record(value: outboxValue(&random, index: $0), timestamp: baseTime + Int64($0 / 40)) }
        let valueBytes = records.reduce(0) { $0 + $1.value!.count }
        var commits: [Double] = []
        var index = 0
        let started = ContinuousClock.now
        while index < records.count {
            try writer.beginTransaction()
            while index < records.count && writer.transactionBytes < 4 << 20 {
                let end = min(index + 2000, records.count)
                try writer.append(Array(records[index..<end]), to: tp)
                index = end
            }
            let commitStarted = ContinuousClock.now
            try writer.commit(metadata: Array(String(index).utf8))
            commits.append(seconds(ContinuousClock.now - commitStarted) * 1000)
        }
        return (Double(valueBytes) / seconds(ContinuousClock.now - started) / 1e6, commits.sorted())
    }
    func percentile(_ sorted: [Double], _ p: Double) -> String {
        String(format: "%.2f", sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])
    }
    let partitionDirectory = logDirectory + "/" + tp.directoryName
    func sealedBases() throws -> [Int64] {
        try FileManager.default.contentsOfDirectory(atPath: partitionDirectory).filter { $0.hasSuffix(".log") }.sorted().dropLast()
            .compactMap { Int64($0.dropLast(4)) }
    }
    func sealedBytes() throws -> Int {
        try sealedBases().reduce(0) { total, base in
            let name = String(format: "%020lld.log", base)
            return total + ((try FileManager.default.attributesOfItem(atPath: partitionDirectory + "/" + name)[.size] as? Int) ?? 0)
        }
    }

    let writer = try LogWriter.open(directory: logDirectory, config: config)
    let alone = try appendAll(writer, from: 0)
    writer.close()

    config.recompression = RecompressionSettings(level: level)
    let recompressing = try LogWriter.open(directory: logDirectory, config: config)
    let recompressStarted = ContinuousClock.now
    let beside = try appendAll(recompressing, from: count)
    let recompressor = recompressing.recompressor!
    let busyAtEnd = !recompressor.waitUntilIdle(timeout: .zero)
    // What step 2 sealed is offered too, so every sealed segment is measured recompressed.
    try recompressing.enforceRetention()
    while !recompressor.waitUntilIdle(timeout: .seconds(1)) {}
    let recompressSeconds = seconds(ContinuousClock.now - recompressStarted)
    let statistics = recompressor.statistics
    recompressing.closeCleanly()
    guard statistics.failures == 0 else { fail("\(statistics.failures) segments failed to recompress") }

    let bytesAfter = try sealedBytes()
    let sealedEnd = try sealedBases().last.map { base -> Int64 in
        let next = try FileManager.default.contentsOfDirectory(atPath: partitionDirectory).filter { $0.hasSuffix(".log") }.sorted()
            .compactMap { Int64($0.dropLast(4)) }.first { $0 > base }
        return next ?? base
    } ?? 0
    let reader = try LogReader(directory: logDirectory).open(tp, isolation: .readCommitted)
    var values: [UInt8] = []
    reading: while true {
        let polled = try reader.poll(maxRecords: 5000)
        if polled.isEmpty { break }
        for record in polled {
            if record.offset >= sealedEnd { break reading }
            values += record.value ?? []
        }
    }
    _ = FileManager.default.createFile(atPath: directory + "/sealed-values.bin", contents: Data(values))
    print("level \(level)")
    print("sealed_segments \(try sealedBases().count)")
    // Segments kept (not smaller) are the same size before and after; swapped ones were larger by this much.
    print("sealed_bytes_before \(bytesAfter + Int(statistics.originalBytes - statistics.storedBytes))")
    print("sealed_bytes_after \(bytesAfter)")
    print("sealed_value_bytes \(values.count)")
    print("recompress_s \(String(format: "%.1f", recompressSeconds))")
    print("append_mb_s_alone \(String(format: "%.1f", alone.mbPerSecond))")
    print("commit_p50_ms_alone \(percentile(alone.commits, 0.5))")
    print("commit_p99_ms_alone \(percentile(alone.commits, 0.99))")
    print("append_mb_s_beside \(String(format: "%.1f", beside.mbPerSecond))")
    print("commit_p50_ms_beside \(percentile(beside.commits, 0.5))")
    print("commit_p99_ms_beside \(percentile(beside.commits, 0.99))")
    print("busy_at_end \(busyAtEnd ? 1 : 0)")
}
