// outflow-bench: the parts of `make bench` (scripts/bench) that need the log engine itself.
//
//   outflow-bench log-micro DIR [RECORDS] [LEVEL] [BATCH]
//       Writes RECORDS outbox-like JSON values (default 400000) through a LogWriter (zstd level
//       LEVEL, default 3; batches of BATCH records, default 2000 as the sink's default; one
//       partition, transactions of about 4 MiB, each commit fsynced; 40 records per millisecond
//       of timestamp), then reads them back
//       read_committed. Also writes the same values, concatenated, to DIR/values.bin so the
//       caller can compress them with `zstd -3`, and the batches' records sections before
//       compression, concatenated, to DIR/records.bin (what the framing of Kafka's record
//       format adds to the values, measured apart from the batching). Prints `key value` lines:
//         append_mb_s  (uncompressed value bytes per second, append + commit)
//         tail_records_s
//         value_bytes, segment_bytes (the partition's .log files)
//         reopen_s     (opening the log for writing again after a clean close)
//
//   outflow-bench log-bench DIR [TRANSACTIONS] [RECORDS] [VALUE_BYTES] [PARTITIONS] [LEVEL]
//       Writes TRANSACTIONS log transactions (default 200) of RECORDS synthetic JSON records
//       (default 500) of VALUE_BYTES bytes (default 300) over PARTITIONS partitions (default 4)
//       of the topic "bench", zstd level LEVEL (default 3), each commit fsynced, then reads
//       them back read_committed; prints the write and read throughput.
//
//   outflow-bench log-recompress DIR [RECORDS] [LEVEL] [SEGMENT_MIB]
//       Sealed segments recompressed in the background at LEVEL (default 19) against zstd -3
//       of their values, and appends beside it (see Recompression.swift).
//
//   outflow-bench open DIR
//       Opens the log at DIR for writing and closes it; prints open_s (a restart's cost).
//
//   outflow-bench open-cost DIR [MIB]
//       Writes one partition whose active segment holds about MIB MiB (default 1024) of batches
//       (zstd level 1; records of 1 KiB of random hex, which compresses about 2:1, each with its
//       `outflow.lsn`), then times opening it for writing after a clean close (the clean shutdown
//       marker is trusted: nothing is read through) and after a close without the marker (the
//       active segment is read through, as after a crash). Prints segment_bytes, open_clean_s,
//       open_unclean_s. Both opens find the files in the page cache.
//
//   outflow-bench latency DIR TOPIC TIMEOUT_SECONDS
//       Follows every partition of TOPIC in the log at DIR, read_committed, as `outflow tail -f`
//       does (woken by inotify when the files change), until 500 ms after it
//       reads a record without "t" (the end marker), or TIMEOUT_SECONDS passed. Each other record value is JSON
//       with "t": the microseconds since the epoch at which the row was written
//       (clock_timestamp()). Prints records, p50_ms, p99_ms, max_ms.
//
//   outflow-bench stream-latency
//       Reads standard input until end of file: pg_recvlogical's output (pgoutput messages as
//       received) on a slot of its own. Times each `"t": N` in it when the read that completed
//       it returned: the walsender's own delivery to a client that only receives. Prints
//       records, p50_ms, p99_ms, max_ms (OUTFLOW_BENCH_STREAM_TRACE=FILE: one line per row).
//
//   outflow-bench count DIR TOPIC
//       The number of committed records of TOPIC (every partition).
//
//   outflow-bench capture URL SLOT PUBLICATION END_LSN FILE
//       Streams SLOT over a replication connection (pgoutput, the protocol version `outflow run`
//       would ask for, PUBLICATION, messages on, no streaming) and writes every XLogData frame
//       to FILE as received — the CopyData bytes, starting with 'w' — each preceded by its
//       length (4 bytes, big-endian), until a frame or a keepalive reports a WAL end at or past
//       END_LSN. Acknowledges nothing: use a slot made for the capture and drop it afterwards.
//       Prints frames, frame_bytes, proto_version.
//
//   outflow-bench dedupe-state DIR KEYS [MEMORY_MIB] [COMMIT_EVERY]
//       An exact dedupe's state in DIR (emptied first) with KEYS distinct keys over a 24-hour
//       window (memory MEMORY_MIB, default 64; a commit every COMMIT_EVERY keys, default 1000),
//       then 1M lookups of held and of new keys. Prints keys, insert_ns, hit_ns, miss_ns,
//       peak_rss_mib (VmHWM), memory_mib, disk_mib, buckets, record_bytes_max, seconds.

import Foundation
import PGOutput
import SegmentLog

func microsecondsSinceEpoch() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("outflow-bench: \(message)\n".utf8))
    exit(1)
}

/// A SplitMix64 generator so the data is the same on every run.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Values shaped like the outbox payloads the drain workloads write (jsonb text form).
func outboxValue(_ random: inout SplitMix64, index: Int) -> [UInt8] {
    let r = random.next()
    let text = #"{"id": \#(index), "sku": "SKU-\#(r % 313)", "qty": \#(r % 5 + 1), "total": \#(r % 10_000).\#(r % 100), "currency": "EUR", "orderId": "o-\#(r % 100_000)", "customerId": "c-\#(r % 977)"}"#
    return Array(text.utf8)
}

func logMicro(directory: String, count: Int, level: Int32, batch: Int) throws {
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let logDirectory = directory + "/log"
    var random = SplitMix64(state: 42)
    let baseTime: Int64 = 1_780_000_000_000
    // Timestamps as the pipeline writes them, the source commit time in milliseconds: at the
    // rate of the drains (some 40,000 rows/s) about 40 consecutive records share one.
    let records = (0..<count).map { Record(value: outboxValue(&random, index: $0), timestamp: baseTime + Int64($0 / 40)) }
    let valueBytes = records.reduce(0) { $0 + $1.value!.count }
    var concatenated: [UInt8] = []
    concatenated.reserveCapacity(valueBytes)
    for record in records { concatenated += record.value! }
    _ = FileManager.default.createFile(atPath: directory + "/values.bin", contents: Data(concatenated))
    var sections: [UInt8] = []
    for start in stride(from: 0, to: records.count, by: batch) {
        let encoded = try records[start..<min(start + batch, records.count)].map { record throws(SegmentLogError) in try EncodedRecord(record) }
        sections += try BatchCodec.prepare(encoded, compression: .none, zstdLevel: 0).section
    }
    _ = FileManager.default.createFile(atPath: directory + "/records.bin", contents: Data(sections))

    var config = LogConfig()
    config.compression = .zstd
    config.zstdLevel = level
    let tp = try TopicPartition(topic: "bench", partition: 0)
    let writer = try LogWriter.open(directory: logDirectory, config: config)
    let transactionBytes = 4 << 20
    let started = ContinuousClock.now
    var index = 0
    var metadata: UInt64 = 0
    while index < records.count {
        try writer.beginTransaction()
        while index < records.count && writer.transactionBytes < transactionBytes {
            let end = min(index + batch, records.count)
            try writer.append(Array(records[index..<end]), to: tp)
            index = end
        }
        metadata += 1
        try writer.commit(metadata: Array(String(metadata).utf8))
    }
    let writeSeconds = seconds(ContinuousClock.now - started)
    writer.close()

    let reader = try LogReader(directory: logDirectory).open(tp, isolation: .readCommitted)
    let readStarted = ContinuousClock.now
    var read = 0
    while true {
        let polled = try reader.poll(maxRecords: 5000)
        if polled.isEmpty { break }
        read += polled.count
    }
    let readSeconds = seconds(ContinuousClock.now - readStarted)
    guard read == count else { fail("read \(read) records back, wrote \(count)") }

    let reopenSeconds = try timeToOpen(logDirectory, config: config)

    let partitionDirectory = logDirectory + "/" + tp.directoryName
    var segmentBytes = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: partitionDirectory) where name.hasSuffix(".log") {
        segmentBytes += (try FileManager.default.attributesOfItem(atPath: partitionDirectory + "/" + name)[.size] as? Int) ?? 0
    }
    print("records \(count)")
    print("value_bytes \(valueBytes)")
    print("append_mb_s \(String(format: "%.1f", Double(valueBytes) / writeSeconds / 1e6))")
    print("tail_records_s \(Int(Double(read) / readSeconds))")
    print("segment_bytes \(segmentBytes)")
    print("reopen_s \(String(format: "%.3f", reopenSeconds))")
}

/// Seconds to open the log at `directory` for writing (a restart after a clean close).
func timeToOpen(_ directory: String, config: LogConfig = LogConfig()) throws -> Double {
    let started = ContinuousClock.now
    let writer = try LogWriter.open(directory: directory, config: config)
    let elapsed = seconds(ContinuousClock.now - started)
    writer.close()
    return elapsed
}

/// The restart cost of a large active segment, after a clean close and after an unclean one.
func openCost(directory: String, mebibytes: Int) throws {
    try? FileManager.default.removeItem(atPath: directory)
    var config = LogConfig()
    config.compression = .zstd
    config.zstdLevel = 1
    config.segmentBytes = Int64(Int32.max)
    let tp = try TopicPartition(topic: "bench", partition: 0)
    let writer = try LogWriter.open(directory: directory, config: config)
    var random = SplitMix64(state: 7)
    let hex = Array("0123456789abcdef".utf8)
    let target = Int64(mebibytes) << 20
    let segment = directory + "/" + tp.directoryName + "/" + String(repeating: "0", count: 20) + ".log"
    var lsn: UInt64 = 0x1_0000_0000
    while (FileManager.default.fileExists(atPath: segment) ? (try FileManager.default.attributesOfItem(atPath: segment)[.size] as? Int64) ?? 0 : 0) < target {
        try writer.beginTransaction()
        for _ in 0..<32 {
            let records = (0..<2000).map { _ in
                lsn += 200
                var value = [UInt8](repeating: 0, count: 1024)
                for i in stride(from: 0, to: value.count, by: 16) {
                    let r = random.next()
                    for j in 0..<16 { value[i + j] = hex[Int((r >> (UInt64(j) * 4)) & 15)] }
                }
                return Record(value: value, headers: [RecordHeader(key: SourcePosition.headerKey, text: SourcePosition.format(lsn))], timestamp: 1_780_000_000_000)
            }
            try writer.append(records, to: tp)
        }
        try writer.commit(metadata: Array(String(lsn).utf8))
    }
    guard writer.closeCleanly() else { fail("open-cost: the writer did not close cleanly") }
    let size = (try FileManager.default.attributesOfItem(atPath: segment)[.size] as? Int64) ?? 0
    var started = ContinuousClock.now
    let clean = try LogWriter.open(directory: directory, config: config)
    let cleanSeconds = seconds(ContinuousClock.now - started)
    guard clean.opening == .cleanShutdown else { fail("open-cost: the clean shutdown marker was not trusted: \(clean.opening)") }
    clean.close()  // no marker: the next open reads the active segment through
    started = ContinuousClock.now
    let unclean = try LogWriter.open(directory: directory, config: config)
    let uncleanSeconds = seconds(ContinuousClock.now - started)
    guard case .recovered = unclean.opening else { fail("open-cost: expected a full recovery, got \(unclean.opening)") }
    unclean.closeCleanly()
    print("segment_bytes \(size)")
    print("open_clean_s \(String(format: "%.4f", cleanSeconds))")
    print("open_unclean_s \(String(format: "%.3f", uncleanSeconds))")
}

func count(directory: String, topic: String) throws {
    let log = try LogReader(directory: directory)
    var total = 0
    for tp in try log.partitions() where tp.topic == topic {
        let reader = try log.open(tp, isolation: .readCommitted)
        while true {
            let records = try reader.poll(maxRecords: 5000)
            if records.isEmpty { break }
            total += records.count
        }
    }
    print(total)
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "log-micro" where arguments.count >= 2:
        func argument(_ index: Int, default value: Int) -> Int {
            guard arguments.count > index else { return value }
            guard let number = Int(arguments[index]), number > 0 else { fail("log-micro: argument \(index) is a positive number") }
            return number
        }
        let level = argument(3, default: 3)
        guard (1...22).contains(level) else { fail("log-micro: LEVEL is a zstd level, 1 to 22") }
        try logMicro(directory: arguments[1], count: argument(2, default: 400_000), level: Int32(level), batch: argument(4, default: 2000))
    case "log-recompress" where arguments.count >= 2:
        func argument(_ index: Int, default value: Int) -> Int {
            guard arguments.count > index else { return value }
            guard let number = Int(arguments[index]), number > 0 else { fail("log-recompress: argument \(index) is a positive number") }
            return number
        }
        let level = argument(3, default: 19)
        guard (1...22).contains(level) else { fail("log-recompress: LEVEL is a zstd level, 1 to 22") }
        try logRecompress(directory: arguments[1], count: argument(2, default: 200_000), level: Int32(level), segmentMiB: argument(4, default: 4))
    case "log-bench" where (2...7).contains(arguments.count):
        func argument(_ index: Int, default value: Int) -> Int {
            guard arguments.count > index else { return value }
            guard let number = Int(arguments[index]), number > 0 else { fail("log-bench: argument \(index) is a positive number") }
            return number
        }
        let level = argument(6, default: 3)
        guard (1...22).contains(level) else { fail("log-bench: LEVEL is a zstd level, 1 to 22") }
        try logThroughput(
            directory: arguments[1], transactions: argument(2, default: 200), records: argument(3, default: 500),
            valueBytes: argument(4, default: 300), partitions: Int32(clamping: argument(5, default: 4)), level: Int32(level))
    case "open" where arguments.count == 2:
        print("open_s \(String(format: "%.3f", try timeToOpen(arguments[1])))")
    case "open-cost" where arguments.count >= 2:
        try openCost(directory: arguments[1], mebibytes: arguments.count > 2 ? Int(arguments[2]) ?? 1024 : 1024)
    case "latency" where arguments.count == 4:
        guard let timeout = Double(arguments[3]) else { fail("latency: TIMEOUT_SECONDS is a number") }
        try latency(directory: arguments[1], topic: arguments[2], timeout: timeout)
    case "stream-latency" where arguments.count == 1:
        streamLatency()
    case "count" where arguments.count == 3:
        try count(directory: arguments[1], topic: arguments[2])
    case "capture" where arguments.count == 6:
        guard let end = LSN(arguments[4]) else { fail("capture: END_LSN must be a WAL position X/Y, got \"\(arguments[4])\"") }
        let summary = try capture(url: arguments[1], slot: arguments[2], publication: arguments[3], end: end, path: arguments[5])
        print("frames \(summary.frames)")
        print("frame_bytes \(summary.frameBytes)")
        print("proto_version \(summary.protocolVersion)")
    case "dedupe-state" where (3...5).contains(arguments.count):
        func argument(_ index: Int, default value: Int) -> Int {
            guard arguments.count > index else { return value }
            guard let number = Int(arguments[index]), number > 0 else { fail("dedupe-state: argument \(index) is a positive number") }
            return number
        }
        try dedupeState(directory: arguments[1], keys: argument(2, default: 0), memoryMiB: argument(3, default: 64), commitEvery: argument(4, default: 1000))
    default:
        fail("usage: outflow-bench log-micro DIR [RECORDS] [LEVEL] [BATCH] | log-bench DIR [TRANSACTIONS] [RECORDS] [VALUE_BYTES] [PARTITIONS] [LEVEL] | open DIR | latency DIR TOPIC TIMEOUT_SECONDS | stream-latency | count DIR TOPIC | capture URL SLOT PUBLICATION END_LSN FILE | dedupe-state DIR KEYS [MEMORY_MIB] [COMMIT_EVERY]")
    }
} catch {
    fail("\(error)")
}
