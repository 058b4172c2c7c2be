import Foundation
import Logging
import Testing

@testable import Pipeline

/// The exact dedupe's state without a server: digests, the table, spilling to bucket files,
/// expiry, commit records and recovery from them, bounds, and damaged files.
@Suite struct ExactDedupeStateTests {
    final class Directory {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dedupe-state-\(UUID().uuidString)").path
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var files: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    }

    /// 64 KiB of memory: the newest bucket is sealed at 3072 keys, so a few thousand keys spill.
    static func settings(window: Int64 = 1_000_000, memory: Int = 64 << 10, maxEntries: Int? = nil, maxDisk: Int64 = 1 << 30, onFull: DedupeStageConfig.OnFull = .forgetOldest) -> ExactDedupeState.Settings {
        ExactDedupeState.Settings(windowMilliseconds: window, memoryBytes: memory, maxDiskBytes: maxDisk, maxEntries: maxEntries, onFull: onFull)
    }

    static func open(_ directory: Directory, _ settings: ExactDedupeState.Settings = settings(), committed: [[UInt8]] = []) throws -> ExactDedupeState {
        try ExactDedupeState.open(settings: settings, directory: directory.path, committed: committed, logger: Logger(label: "test"))
    }

    func seen(_ state: ExactDedupeState, _ key: String, at time: Int64) throws -> Bool {
        try state.check(state.digest(of: Array(key.utf8)), at: time)
    }

    @Test func sipHashMatchesThePublishedVectors() {
        // The reference implementation's vectors: key 00 01 … 0f, messages 00 01 … (n − 1).
        let k0: UInt64 = 0x0706_0504_0302_0100, k1: UInt64 = 0x0f0e_0d0c_0b0a_0908
        #expect(SipHash.hash64([UInt8](), k0: k0, k1: k1) == 0x726f_db47_dd0e_0e31)
        #expect(SipHash.hash64(Array(0..<15), k0: k0, k1: k1) == 0xa129_ca61_49be_45e5)
        #expect(SipHash.hash64(Array(0..<8), k0: k0, k1: k1) == 0x93f5_f579_9a93_2462)
        let wide = SipHash.hash128([UInt8](), k0: k0, k1: k1)
        // a3 81 7f 04 ba 25 a8 e6 | 6d f6 72 14 c7 55 02 93, each half little-endian.
        #expect(wide.0 == 0xe6a8_25ba_047f_81a3)
        #expect(wide.1 == 0x9302_55c7_1472_f66d)
    }

    @Test func theTableFindsWhatItHoldsAcrossGrowthAndProbeCollisions() {
        let table = DigestTable(capacity: 1024, baseTime: 1000)
        var generator = SystemRandomNumberGenerator()
        var digests: [KeyDigest] = []
        for index in 0..<20_000 {
            // Every fourth digest shares its slot index with the one before: linear probing must tell them apart.
            let high: UInt64 = index % 4 == 3 ? digests[index - 1].high ^ (1 << 63) : generator.next()
            digests.append(KeyDigest(high: high, low: generator.next()))
            if !table.hasRoom { table.grow() }
            #expect(table.set(digests[index], offset: Int32(index)))
        }
        #expect(table.count == 20_000)
        for (index, digest) in digests.enumerated() { #expect(table.time(of: digest) == 1000 + Int64(index)) }
        // The same high word with another low word is another key.
        #expect(table.time(of: KeyDigest(high: digests[0].high, low: digests[0].low ^ 1)) == nil)
        #expect(table.set(digests[0], offset: 5) == false)
        #expect(table.time(of: digests[0]) == 1005)
    }

    @Test func theFilterNeverMissesAHeldDigestAndRarelyPassesAnother() {
        var generator = SystemRandomNumberGenerator()
        let held = (0..<50_000).map { _ in KeyDigest(high: generator.next(), low: generator.next()) }
        let filter = DigestFilter(expectedKeys: held.count)
        for digest in held { filter.insert(digest) }
        #expect(held.allSatisfy { filter.mayContain($0) })
        let others = (0..<50_000).filter { _ in filter.mayContain(KeyDigest(high: generator.next(), low: generator.next())) }.count
        // About 2–3 % at 8 bits a key; a false positive only costs a read of the bucket file.
        #expect(Double(others) / 50_000 < 0.05, "\(others) false positives")
        #expect(filter.byteCount <= held.count + 64)
    }

    @Test func dropsRepeatsWithinTheWindowInMemoryAndOnDisk() throws {
        let directory = Directory()
        let state = try Self.open(directory)
        let keys = 20_000
        for index in 0..<keys { #expect(try !seen(state, "key-\(index)", at: Int64(index))) }
        #expect(state.bucketCount > 5, "the keys spilled into sealed buckets")
        #expect(state.memoryBytes < 64 << 10 + keys)
        for index in stride(from: 0, to: keys, by: 7) { #expect(try seen(state, "key-\(index)", at: Int64(keys))) }
        for index in 0..<1000 { #expect(try !seen(state, "other-\(index)", at: Int64(keys))) }
        #expect(state.count == keys + 1000)
    }

    @Test func forgetsAKeyOnceItsWindowHasPassedAndDeletesExpiredBucketsAtTheCommit() throws {
        let directory = Directory()
        let state = try Self.open(directory, Self.settings(window: 10_000))
        for index in 0..<10_000 { #expect(try !seen(state, "key-\(index)", at: Int64(index))) }
        _ = try state.pendingChanges()
        state.didCommit(recorded: true)
        let bucketsBefore = directory.files.filter { $0.hasSuffix(".ddb") }.count
        #expect(bucketsBefore >= 3)
        // At 15000 the window starts at 5000: key-4999 is out, key-5000 in.
        #expect(try !seen(state, "key-4999", at: 15_000))
        #expect(try seen(state, "key-5000", at: 15_001 - 1))
        #expect(try !seen(state, "key-10", at: 15_000))
        _ = try state.pendingChanges()
        state.didCommit(recorded: true)
        #expect(directory.files.filter { $0.hasSuffix(".ddb") }.count < bucketsBefore)
        // Long after, nothing is left of the first keys.
        #expect(try !seen(state, "key-9999", at: 100_000))
        _ = try state.pendingChanges()
        state.didCommit(recorded: true)
        #expect(directory.files.filter { $0.hasSuffix(".ddb") }.isEmpty)
    }

    @Test func commitRecordsRestoreExactlyWhatWasCommitted() throws {
        let directory = Directory()
        var records: [[UInt8]] = []
        do {
            let state = try Self.open(directory)
            for index in 0..<5000 { _ = try seen(state, "big-\(index)", at: 100) }  // one large commit: spilled, journal synced
            records.append(try #require(try state.pendingChanges()))
            state.didCommit(recorded: true)
            #expect(records[0].count < 1024, "a commit of 5000 keys names files: \(records[0].count) bytes")
            for index in 0..<10 { _ = try seen(state, "small-\(index)", at: 200) }  // small commits carry their keys
            records.append(try #require(try state.pendingChanges()))
            state.didCommit(recorded: true)
            _ = try seen(state, "small-10", at: 300)
            records.append(try #require(try state.pendingChanges()))
            state.didCommit(recorded: true)
            _ = try seen(state, "never-committed", at: 400)  // written to the journal, never named by a commit record
            _ = try state.pendingChanges()
        }
        let restored = try Self.open(directory, committed: records)
        for index in stride(from: 0, to: 5000, by: 13) { #expect(try seen(restored, "big-\(index)", at: 500)) }
        for index in 0...10 { #expect(try seen(restored, "small-\(index)", at: 500)) }
        #expect(try !seen(restored, "never-committed", at: 500))
        // Only the last reference matters: the same state from the last two, or the last three.
        try restored.didAbort()
        let fromTail = try Self.open(directory, committed: Array(records.suffix(2)))
        #expect(try seen(fromTail, "small-3", at: 600))
        #expect(try seen(fromTail, "big-4999", at: 600))
    }

    /// A compacted Kafka topic keeps only the newest checkpoint: that record alone must restore
    /// the keys of every commit since the journal's last fsync, including ones before an abort,
    /// and across the fsync that a growing list of such keys forces.
    @Test func theNewestRecordAloneRestoresEveryCommittedKey() throws {
        let directory = Directory()
        // The state's files as they were when record i was the newest (what a restart then finds).
        var copies: [Int: Directory] = [:]
        func keepCopy(_ index: Int) throws {
            let copy = Directory()
            try FileManager.default.copyItem(atPath: directory.path, toPath: copy.path)
            copies[index] = copy
        }
        var records: [[UInt8]] = []
        var inlineCounts: [Int] = []
        do {
            let state = try Self.open(directory)
            _ = try seen(state, "first", at: 1)  // a new journal: this commit fsyncs it
            records.append(try #require(try state.pendingChanges()))
            state.didCommit(recorded: true)
            for commit in 0..<120 {
                for index in 0..<3 { _ = try seen(state, "small-\(commit)-\(index)", at: 10 + Int64(commit)) }
                if commit == 5 {
                    _ = try seen(state, "aborted", at: 15)
                    try state.didAbort()
                    for index in 0..<3 { _ = try seen(state, "small-\(commit)-\(index)", at: 10 + Int64(commit)) }
                }
                let record = try #require(try state.pendingChanges())
                records.append(record)
                inlineCounts.append(try DedupeManifest(decoding: record).inline.count)
                state.didCommit(recorded: true)
                if [4, 9].contains(records.count - 1) || inlineCounts.last == 0 && copies.count < 3 { try keepCopy(records.count - 1) }
            }
        }
        // The keys accumulate from record to record until they would pass the limit; then the
        // journal is fsynced and the list starts again.
        #expect(Array(inlineCounts.prefix(4)) == [3, 6, 9, 12])
        #expect(inlineCounts.max()! <= ExactDedupeState.inlineLimit)
        #expect(inlineCounts.contains(0), "the journal was never synced: \(inlineCounts)")
        try keepCopy(records.count - 1)
        #expect(copies.count == 4)
        // Each record alone, with the files of its time, holds everything committed up to it.
        for (last, copy) in copies {
            let restored = try ExactDedupeState.open(settings: Self.settings(), directory: copy.path, committed: [records[last]], logger: Logger(label: "test"))
            #expect(try seen(restored, "first", at: 200), "record \(last)")
            for commit in 0..<last {
                for index in 0..<3 { #expect(try seen(restored, "small-\(commit)-\(index)", at: 200), "record \(last), commit \(commit)") }
            }
            #expect(try !seen(restored, "aborted", at: 200))
            if last < records.count - 1 { #expect(try !seen(restored, "small-\(last)-0", at: 200), "record \(last)") }
        }
    }

    @Test func aCommitWithoutARecordKeepsWhatTheLastRecordNames() throws {
        // A group that wrote no output writes no commit record: files the last record names must
        // survive it, even when the state moved on (sealed a bucket, expired another).
        let directory = Directory()
        let state = try Self.open(directory, Self.settings(window: 10_000))
        for index in 0..<5000 { _ = try seen(state, "key-\(index)", at: Int64(index)) }
        let record = try #require(try state.pendingChanges())
        state.didCommit(recorded: true)
        for index in 0..<5000 { _ = try seen(state, "later-\(index)", at: 30_000 + Int64(index)) }
        _ = try state.pendingChanges()
        state.didCommit(recorded: false)
        let restored = try Self.open(directory, committed: [record])
        #expect(try seen(restored, "key-4999", at: 5000))
        #expect(try !seen(restored, "later-1", at: 5000))
    }

    @Test func aRunOutsideExactlyOnceLeavesTheRecordedFilesAlone() throws {
        // A log switched to another guarantee and back: the last exactly-once record still names
        // its files, whatever the run in between did.
        let directory = Directory()
        let state = try Self.open(directory)
        for index in 0..<5000 { _ = try seen(state, "key-\(index)", at: 1) }
        let record = try #require(try state.pendingChanges())
        state.didCommit(recorded: true)
        let volatile = try ExactDedupeState.open(settings: Self.settings(), directory: directory.path, committed: nil, logger: Logger(label: "test"))
        for index in 0..<5000 { _ = try seen(volatile, "other-\(index)", at: 2) }
        _ = try volatile.pendingChanges()
        volatile.didCommit(recorded: false)
        let restored = try Self.open(directory, committed: [record])
        #expect(try seen(restored, "key-42", at: 3))
        #expect(try !seen(restored, "other-42", at: 3))
    }

    @Test func anAbortGoesBackToTheLastCommitEvenAfterASealMidTransaction() throws {
        let directory = Directory()
        let state = try Self.open(directory)
        for index in 0..<100 { _ = try seen(state, "committed-\(index)", at: 1) }
        _ = try state.pendingChanges()
        state.didCommit(recorded: true)
        let filesAtCommit = directory.files
        for index in 0..<10_000 { _ = try seen(state, "aborted-\(index)", at: 2) }  // seals buckets of its own
        #expect(directory.files.count > filesAtCommit.count)
        try state.didAbort()
        #expect(directory.files == filesAtCommit)
        for index in stride(from: 0, to: 10_000, by: 97) { #expect(try !seen(state, "aborted-\(index)", at: 3)) }
        for index in 0..<100 { #expect(try seen(state, "committed-\(index)", at: 3)) }
    }

    @Test func aBoundEitherForgetsTheOldestWithACountOrRefuses() throws {
        let directories = (Directory(), Directory(), Directory())
        let forgetting = try Self.open(directories.0, Self.settings(maxEntries: 8000))
        for index in 0..<20_000 { _ = try seen(forgetting, "key-\(index)", at: Int64(index)) }
        #expect(forgetting.count <= 8000)
        #expect(forgetting.forgottenKeys >= 12_000)
        #expect(try seen(forgetting, "key-19999", at: 20_000))
        #expect(try !seen(forgetting, "key-0", at: 20_000))

        let refusing = try Self.open(directories.1, Self.settings(maxEntries: 8000, onFull: .refuse))
        let error = #expect(throws: DedupeStateError.self) {
            for index in 0..<20_000 { _ = try seen(refusing, "key-\(index)", at: Int64(index)) }
        }
        #expect(error?.code == .full)
        #expect(refusing.forgottenKeys == 0)

        let disk = try Self.open(directories.2, Self.settings(maxDisk: 200 << 10))
        for index in 0..<40_000 { _ = try seen(disk, "key-\(index)", at: Int64(index)) }
        #expect(disk.diskBytes <= 200 << 10 + 64 << 10)
        #expect(disk.forgottenKeys > 0)
    }

    @Test func damagedFilesAndReferencesAreTypedErrors() throws {
        let directory = Directory()
        let state = try Self.open(directory)
        for index in 0..<8000 { _ = try seen(state, "key-\(index)", at: 1) }
        let record = try #require(try state.pendingChanges())
        state.didCommit(recorded: true)
        // Every cut of the reference, and trailing bytes, are refused.
        for cut in 4..<record.count {
            #expect(throws: DedupeStateError.self) { try DedupeManifest(decoding: Array(record[0..<cut])) }
        }
        #expect(throws: DedupeStateError.self) { try DedupeManifest(decoding: record + [0]) }
        #expect(try Self.open(directory, committed: [record]).count == 8000)
        // Every byte of the reference changed: a typed error or a state, never a trap.
        for position in 4..<record.count {
            var changed = record
            changed[position] ^= 0xFF
            do { _ = try Self.open(directory, committed: [changed]) } catch let error as DedupeStateError { _ = error }
        }
        #expect(try Self.open(directory, committed: [record]).count == 8000)

        let bucket = try #require(directory.files.first { $0.hasSuffix(".ddb") })
        let journal = try #require(directory.files.first { $0.hasSuffix(".ddj") })
        func damage(_ name: String, _ change: (inout Data) -> Void) throws -> Data {
            let url = URL(fileURLWithPath: directory.path + "/" + name)
            let original = try Data(contentsOf: url)
            var bytes = original
            change(&bytes)
            try bytes.write(to: url)
            return original
        }
        func expectFailure(_ code: DedupeStateError.Code) {
            let error = #expect(throws: DedupeStateError.self) { try Self.open(directory, committed: [record]) }
            #expect(error?.code == code)
        }
        // A flipped bit in a bucket's slots, a torn bucket, a cut journal, a missing file.
        var original = try damage(bucket) { $0[$0.count / 2] ^= 0x10 }
        expectFailure(.damaged)
        try original.write(to: URL(fileURLWithPath: directory.path + "/" + bucket))
        original = try damage(bucket) { $0.removeLast(100) }
        expectFailure(.damaged)
        try original.write(to: URL(fileURLWithPath: directory.path + "/" + bucket))
        original = try damage(journal) { $0.removeLast(8) }
        expectFailure(.damaged)
        try original.write(to: URL(fileURLWithPath: directory.path + "/" + journal))
        original = try damage(journal) { $0[40] ^= 1 }
        expectFailure(.damaged)
        try original.write(to: URL(fileURLWithPath: directory.path + "/" + journal))
        #expect(try Self.open(directory, committed: [record]).count == 8000)
        try FileManager.default.removeItem(atPath: directory.path + "/" + journal)
        expectFailure(.missing)
    }
}
