import Foundation
import SegmentLog

// The two sides of the live latency measurement: a reader of Outflow's log as `outflow tail -f`
// reads it, and a reader of what the walsender delivers to a client that only receives
// (pg_recvlogical on a slot of its own, its output piped in). Both time each row against the
// `"t"` its payload carries (clock_timestamp() in µs, written by the INSERT), on the same clock.

let sendTimePattern = Array(#""t":"#.utf8)

/// What follows a `"t":` in bytes read so far.
enum SendTimeScan: Equatable {
    /// The microseconds, and where the number ends.
    case found(Int64, end: Int)
    /// Not a number.
    case none
    /// The bytes end before the number does: read more.
    case incomplete
}

/// The microseconds in `"t": 123…` where `bytes[start...]` begins with the pattern.
func scanSendTime(_ bytes: [UInt8], patternAt start: Int) -> SendTimeScan {
    var j = start + sendTimePattern.count
    while j < bytes.count && bytes[j] == UInt8(ascii: " ") { j += 1 }
    var number: Int64 = 0
    var digits = 0
    while j < bytes.count, bytes[j] >= UInt8(ascii: "0"), bytes[j] <= UInt8(ascii: "9") {
        number = number &* 10 &+ Int64(bytes[j] - UInt8(ascii: "0"))
        j += 1
        digits += 1
    }
    if j == bytes.count { return .incomplete }
    return digits > 0 ? .found(number, end: j) : .none
}

/// The microseconds in `"t": 123…` of a JSON value.
func sendTime(_ value: [UInt8]) -> Int64? {
    var i = 0
    while i + sendTimePattern.count <= value.count {
        if value[i..<(i + sendTimePattern.count)].elementsEqual(sendTimePattern) {
            if case .found(let sent, _) = scanSendTime(value, patternAt: i) { return sent }
            return nil
        }
        i += 1
    }
    return nil
}

/// Latencies in µs; prints records, p50_ms, p99_ms, max_ms.
struct LatencyFigures {
    var latencies: [Int64] = []
    /// With OUTFLOW_BENCH_LATENCY_TRACE=FILE (or `tracePath`), one line per record: seen-at µs, latency µs.
    private let trace: UnsafeMutablePointer<FILE>?

    init(tracePath: String?) {
        latencies.reserveCapacity(400_000)
        trace = tracePath.flatMap { fopen($0, "w") }
    }

    mutating func add(sentAt sent: Int64, seenAt now: Int64) {
        latencies.append(now - sent)
        if let trace { fputs("\(now) \(now - sent)\n", trace) }
    }

    mutating func printSummary() {
        if let trace { fclose(trace) }
        latencies.sort()
        func percentile(_ p: Double) -> String {
            guard !latencies.isEmpty else { return "nan" }
            let index = min(latencies.count - 1, Int((p * Double(latencies.count)).rounded(.up)) - 1)
            return String(format: "%.1f", Double(latencies[max(0, index)]) / 1000)
        }
        print("records \(latencies.count)")
        print("p50_ms \(percentile(0.50))")
        print("p99_ms \(percentile(0.99))")
        print("max_ms \(latencies.last.map { String(format: "%.1f", Double($0) / 1000) } ?? "nan")")
    }
}

/// Follows every partition of `topic` read_committed as `outflow tail -f` does (a
/// `LogConsumer` woken by inotify when the log's files change, not a poll on a timer), until
/// 500 ms after it reads a record without "t" (the end marker), or `timeout` seconds passed.
func latency(directory: String, topic: String, timeout: Double) throws {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(timeout * 1000)))
    var figures = LatencyFigures(tracePath: ProcessInfo.processInfo.environment["OUTFLOW_BENCH_LATENCY_TRACE"])
    let consumer = try LogConsumer(directory: directory, subscription: TopicSubscription(patterns: [topic]), isolation: .readCommitted)
    var ended = false
    // The end marker's partition may show its commit before the others do (the commit markers
    // are written partition by partition): keep reading for 500 ms after it.
    var endedAt: ContinuousClock.Instant?
    var discovered = timespec()
    while ContinuousClock.now < deadline {
        if let endedAt, ContinuousClock.now - endedAt >= .milliseconds(500) { break }
        // New partitions appear as the first records of their keys arrive: look when the log
        // directory changed (its modification time moves when one is created).
        var info = stat()
        if stat(directory, &info) == 0, info.st_mtim.tv_sec != discovered.tv_sec || info.st_mtim.tv_nsec != discovered.tv_nsec {
            discovered = info.st_mtim
            try consumer.refreshPartitions()
        }
        let records = try consumer.poll(maxRecords: 1000)
        if records.isEmpty {
            consumer.waitForData(timeout: .milliseconds(100))
            continue
        }
        let now = microsecondsSinceEpoch()
        for consumed in records {
            if let value = consumed.record.value, let sent = sendTime(value) {
                figures.add(sentAt: sent, seenAt: now)
            } else if !ended {
                ended = true
                endedAt = .now
            }
        }
    }
    print("ended \(ended)")
    figures.printSummary()
}

/// Reads standard input — what pg_recvlogical writes as it receives it, a stream of pgoutput
/// messages whose Insert tuples hold the payload as text — until the end marker (a payload
/// with `"end":`) or end of file, and times each `"t": N` in it at the moment the read that
/// completed it returned.
func streamLatency() {
    var figures = LatencyFigures(tracePath: ProcessInfo.processInfo.environment["OUTFLOW_BENCH_STREAM_TRACE"])
    let endPattern = Array(#""end":"#.utf8)
    var pending: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var ended = false
    reading: while true {
        let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        let now = microsecondsSinceEpoch()
        pending += chunk[0..<count]
        // Every complete `"t": N` in what has arrived; keep what may be the start of one.
        var keepFrom = max(0, pending.count - (endPattern.count - 1))
        var i = 0
        while i + sendTimePattern.count <= pending.count {
            guard pending[i] == UInt8(ascii: "\""), pending[i + 1] == UInt8(ascii: "t") || pending[i + 1] == UInt8(ascii: "e") else {
                i += 1
                continue
            }
            if i + endPattern.count <= pending.count, pending[i..<(i + endPattern.count)].elementsEqual(endPattern) {
                ended = true
                break reading
            }
            guard pending[i..<(i + sendTimePattern.count)].elementsEqual(sendTimePattern) else {
                i += 1
                continue
            }
            switch scanSendTime(pending, patternAt: i) {
            case .found(let sent, let end):
                figures.add(sentAt: sent, seenAt: now)
                i = end
            case .none:
                i += sendTimePattern.count
            case .incomplete:
                keepFrom = i
                i = pending.count
            }
        }
        pending.removeFirst(min(keepFrom, pending.count))
    }
    print("ended \(ended)")
    figures.printSummary()
}
