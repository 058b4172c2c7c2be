import Foundation
import Logging
import Pipeline

/// `outflow-bench dedupe-state`: an exact dedupe's state at scale, without a pipeline around
/// it. KEYS distinct keys (36-character ids, as uuids are) seen once each, spread evenly over
/// a 24-hour window of commit time, committed every COMMIT_EVERY keys as the stage commits
/// (the state's part of a commit record made, then the commit taken); then lookups of keys it
/// holds (duplicates) and of keys it does not, at the window's end. Prints `key value` lines:
/// keys, insert_ns (a new key: checked and added; wall time, the commits' fsyncs included) and
/// insert_cpu_ns (CPU time), hit_ns / hit_cpu_ns, miss_ns / miss_cpu_ns, peak_rss_mib (VmHWM of
/// the process), memory_mib and disk_mib (what the state says it takes), buckets,
/// record_bytes_max (the largest commit-record part), seconds.
func dedupeState(directory: String, keys: Int, memoryMiB: Int, commitEvery: Int) throws {
    let window: Int64 = 86_400_000
    let settings = ExactDedupeState.Settings(windowMilliseconds: window, memoryBytes: memoryMiB << 20, maxDiskBytes: 1 << 40)
    try? FileManager.default.removeItem(atPath: directory)
    let state = try ExactDedupeState.open(settings: settings, directory: directory, committed: [], logger: Logger(label: "bench"))
    // 8-4-4-4-12 hex digits, like a uuid's text: a mix of the index, then the index.
    var text = [UInt8](repeating: 45, count: 36)
    let hexDigits = Array("0123456789abcdef".utf8)
    let positions = (0..<36).filter { ![8, 13, 18, 23].contains($0) }
    func key(_ index: Int) -> [UInt8] {
        let mixed = UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        for (digit, position) in positions.enumerated() {
            let nibble = digit < 16 ? (mixed >> UInt64(60 - digit * 4)) & 15 : (UInt64(index) >> UInt64(60 - (digit - 16) * 4)) & 15
            text[position] = hexDigits[Int(nibble)]
        }
        return text
    }
    var recordMax = 0
    let started = ContinuousClock.now
    let cpuStarted = processCPUSeconds()
    for index in 0..<keys {
        let time = Int64(index) * window / Int64(keys)
        if try state.check(state.digest(of: key(index)), at: time) { fail("dedupe-state: key \(index) taken for a duplicate (a digest collision)") }
        if (index + 1) % commitEvery == 0 {
            recordMax = max(recordMax, try state.pendingChanges()?.count ?? 0)
            state.didCommit(recorded: true)
        }
    }
    recordMax = max(recordMax, try state.pendingChanges()?.count ?? 0)
    state.didCommit(recorded: true)
    let inserted = ContinuousClock.now - started
    let insertedCPU = processCPUSeconds() - cpuStarted
    let end = window - 1
    let probes = min(keys, 1_000_000)
    var random = SplitMix64(state: 42)
    let hitsStarted = ContinuousClock.now
    let hitsCPUStarted = processCPUSeconds()
    for _ in 0..<probes {
        let index = Int(random.next() % UInt64(keys))
        guard try state.check(state.digest(of: key(index)), at: end) else { fail("dedupe-state: key \(index) was forgotten inside its window") }
    }
    let hits = ContinuousClock.now - hitsStarted
    let hitsCPU = processCPUSeconds() - hitsCPUStarted
    let missesStarted = ContinuousClock.now
    let missesCPUStarted = processCPUSeconds()
    var falseHits = 0
    for index in 0..<probes where try state.check(state.digest(of: key(keys + index)), at: end) { falseHits += 1 }
    let misses = ContinuousClock.now - missesStarted
    let missesCPU = processCPUSeconds() - missesCPUStarted
    guard falseHits == 0 else { fail("dedupe-state: \(falseHits) new keys taken for duplicates") }
    print("keys \(keys)")
    print("insert_ns \(Int(seconds(inserted) * 1e9 / Double(keys)))")
    print("insert_cpu_ns \(Int(insertedCPU * 1e9 / Double(keys)))")
    print("hit_ns \(Int(seconds(hits) * 1e9 / Double(probes)))")
    print("hit_cpu_ns \(Int(hitsCPU * 1e9 / Double(probes)))")
    print("miss_ns \(Int(seconds(misses) * 1e9 / Double(probes)))")
    print("miss_cpu_ns \(Int(missesCPU * 1e9 / Double(probes)))")
    print("peak_rss_mib \(peakResidentMiB())")
    print("memory_mib \(state.memoryBytes >> 20)")
    print("disk_mib \(state.diskBytes >> 20)")
    print("buckets \(state.bucketCount)")
    print("record_bytes_max \(recordMax)")
    print("seconds \(String(format: "%.1f", seconds(ContinuousClock.now - started)))")
}

/// CPU time of the process (user and system), in seconds.
func processCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// VmHWM: the most resident memory the process has had, in MiB.
func peakResidentMiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return -1 }
    return kib / 1024
}
