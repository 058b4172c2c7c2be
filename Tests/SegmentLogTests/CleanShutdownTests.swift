import BinaryIO
import Foundation
import Synchronization
import Testing
@testable import SegmentLog

/// The clean shutdown marker: a writer closed cleanly is opened again without reading its
/// active segments through, and goes on exactly as after a full recovery; a marker that does
/// not match the files, or no marker, means a full recovery.
@Suite struct CleanShutdownTests {
    let orders = try! TopicPartition(topic: "orders", partition: 0)
    let payments = try! TopicPartition(topic: "payments", partition: 1)
    let plain = try! TopicPartition(topic: "plain", partition: 0)

    /// Small segments and index intervals, so a few transactions roll segments and write
    /// entries in every index; a hand-moved clock, so two directories get the same bytes.
    func config(_ clock: TestClock) -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = 3000
        config.indexIntervalBytes = 200
        config.lsnIndexIntervalBytes = 400
        config.clock = { clock.now }
        return config
    }

    /// Committed and aborted transactions over two partitions (source positions in headers, so
    /// the LSN index fills) and plain appends to a third.
    func writeHistory(_ writer: LogWriter, round: Int, clock: TestClock) throws {
        for transaction in 0..<6 {
            try writer.beginTransaction()
            let lsn = UInt64(round * 1000 + transaction * 10 + 1)
            try writer.append((0..<4).map { record("r\(round)-t\(transaction)-o\($0)", lsn: lsn, timestamp: 1_700_000_000_000 + Int64(lsn)) }, to: orders)
            try writer.append([record("r\(round)-t\(transaction)-p", lsn: lsn, timestamp: 1_700_000_000_000 + Int64(lsn))], to: payments)
            if transaction == 2 { try writer.abort() } else { try writer.commit(metadata: Array("r\(round) t\(transaction)".utf8)) }
            clock.advance(by: 7)
        }
        try writer.appendPlain([record("r\(round)-plain")], to: plain)
        try writer.sync()
    }

    func markerPath(_ dir: TemporaryDirectory) -> String { dir.file(CleanShutdownMarker.fileName) }

    /// Every file of a log directory, by relative path, with its bytes.
    func snapshot(_ directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = try #require(FileManager.default.enumerator(atPath: directory))
        while let name = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)) }
        }
        return files
    }

    @Test func aCleanCloseIsTrustedAndTheLogGoesOnAsAfterAFullRecovery() throws {
        let clock = TestClock(1_700_000_000_000)
        let trusted = try TemporaryDirectory(), recovered = try TemporaryDirectory()
        defer { trusted.remove(); recovered.remove() }
        let first = try LogWriter.open(directory: trusted.path, config: config(clock))
        try writeHistory(first, round: 0, clock: clock)
        #expect(first.closeCleanly())
        #expect(FileManager.default.fileExists(atPath: markerPath(trusted)))

        // The same files without the marker: the other directory takes the full recovery.
        try FileManager.default.removeItem(atPath: recovered.path)
        try FileManager.default.copyItem(atPath: trusted.path, toPath: recovered.path)
        try FileManager.default.removeItem(atPath: markerPath(recovered))

        let fast = try LogWriter.open(directory: trusted.path, config: config(clock))
        #expect(fast.opening == .cleanShutdown)
        #expect(!FileManager.default.fileExists(atPath: markerPath(trusted)), "the marker must be gone once a writer is open")
        // A clock of its own from the same instant: commit records carry the clock's time.
        let slowClock = TestClock(clock.now)
        let slow = try LogWriter.open(directory: recovered.path, config: config(slowClock))
        guard case .recovered(let reason) = slow.opening else {
            Issue.record("without the marker the open should recover, not \(slow.opening)")
            return
        }
        #expect(reason.contains("no clean shutdown marker"))
        #expect(fast.lastCommittedMetadata == slow.lastCommittedMetadata)
        for tp in [orders, payments, plain] { #expect(try fast.nextSequence(for: tp) == slow.nextSequence(for: tp)) }

        // Both go on with the same writes: every file ends byte for byte the same, indexes,
        // producer snapshots and transaction index included.
        try writeHistory(fast, round: 1, clock: clock)
        try writeHistory(slow, round: 1, clock: slowClock)
        fast.close()
        slow.close()
        let fastFiles = try snapshot(trusted.path), slowFiles = try snapshot(recovered.path)
        #expect(fastFiles.keys.sorted() == slowFiles.keys.sorted())
        for (name, bytes) in fastFiles where slowFiles[name] != bytes {
            Issue.record("\(name) differs after the trusted open (\(bytes.count) bytes) from the recovered one (\(slowFiles[name]?.count ?? -1) bytes)")
        }
        #expect(try readAll(trusted.path, orders).count == 2 * 5 * 4)
        #expect(try readAll(trusted.path, payments).count == 2 * 5)
        let report = try LogVerifier.verify(directory: trusted.path)
        #expect(report.isHealthy, "\(report.errors)")
    }

    @Test func theMarkerIsGoneBeforeTheFirstWriteSoACrashAfterAnOpenRecovers() throws {
        let clock = TestClock(1_700_000_000_000)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path, config: config(clock))
        #expect(writer.opening == .created)
        try writeHistory(writer, round: 0, clock: clock)
        #expect(writer.closeCleanly())
        let reopened = try LogWriter.open(directory: dir.path, config: config(clock))
        #expect(reopened.opening == .cleanShutdown)
        #expect(!FileManager.default.fileExists(atPath: markerPath(dir)))
        try reopened.beginTransaction()
        try reopened.append([record("in doubt")], to: orders)
        reopened.close()  // a crash: the transaction is left open
        let afterCrash = try LogWriter.open(directory: dir.path, config: config(clock))
        guard case .recovered(let reason) = afterCrash.opening else {
            Issue.record("after a crash the open should recover, not \(afterCrash.opening)")
            return
        }
        #expect(reason.contains("no clean shutdown marker"))
        #expect(try !readAll(dir.path, orders).contains("in doubt"))
        #expect(try readAll(dir.path, orders, isolation: .readUncommitted).contains("in doubt"))
        afterCrash.close()
    }

    enum Tampering: String, CaseIterable {
        case bytesAppended, lastBatchCut, indexDeleted, markerDamaged
    }

    /// Files changed behind the marker's back: the open notices by the sizes (or the marker's
    /// checksum) and recovers fully. Trusting such a marker would append after the wrong byte,
    /// lose the cut transaction's marker, or leave the index missing.
    @Test(arguments: Tampering.allCases)
    func aMarkerThatDoesNotMatchTheFilesIsNotTrusted(_ tampering: Tampering) throws {
        let clock = TestClock(1_700_000_000_000)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path, config: config(clock))
        try writeHistory(writer, round: 0, clock: clock)
        let expected = try readAll(dir.path, payments)
        #expect(writer.closeCleanly())
        let partition = dir.file(payments.directoryName)
        let active = try #require(try segmentLogs(partition).last)
        let activeSize = try fileSize(active)
        let expectedInReason: String
        switch tampering {
        case .bytesAppended:
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: active))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(repeating: 0, count: 17))
            try handle.close()
            expectedInReason = (active as NSString).lastPathComponent
        case .lastBatchCut:
            // The last batch is the COMMIT marker of the last transaction (78 bytes).
            try truncateFile(active, to: activeSize - 78)
            expectedInReason = (active as NSString).lastPathComponent
        case .indexDeleted:
            let index = (active as NSString).deletingPathExtension + ".index"
            try FileManager.default.removeItem(atPath: index)
            expectedInReason = ((index as NSString).lastPathComponent) + " is missing"
        case .markerDamaged:
            try patchFile(markerPath(dir), at: 9, xor: 0x40)
            expectedInReason = "unreadable"
        }
        let reopened = try LogWriter.open(directory: dir.path, config: config(clock))
        guard case .recovered(let reason) = reopened.opening else {
            Issue.record("\(tampering): a stale marker was trusted")
            return
        }
        #expect(reason.contains(expectedInReason), "\(reason)")
        // Recovered as if there had been no marker: the cut COMMIT is written again from the
        // commit record, the appended bytes are cut off as a torn tail.
        #expect(try readAll(dir.path, payments) == expected)
        #expect(try fileSize(active) == activeSize)
        try reopened.beginTransaction()
        try reopened.append([record("after")], to: payments)
        try reopened.commit(metadata: [9])
        #expect(try readAll(dir.path, payments) == expected + ["after"])
        reopened.close()
        let report = try LogVerifier.verify(directory: dir.path)
        #expect(report.isHealthy, "\(report.errors)")
    }

    @Test func aWriterThatCannotVouchForItsFilesLeavesNoMarker() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let open = try LogWriter.open(directory: dir.path)
        try open.beginTransaction()
        try open.append([record("open")], to: orders)
        #expect(!open.closeCleanly(), "a transaction is open")
        #expect(!FileManager.default.fileExists(atPath: markerPath(dir)))

        let fenced = try LogWriter.open(directory: dir.path)
        #expect(fenced.opening != .cleanShutdown)
        let newer = try LogWriter.open(directory: dir.path)
        #expect(!fenced.closeCleanly(), "a fenced writer no longer owns the files")
        #expect(!FileManager.default.fileExists(atPath: markerPath(dir)))
        #expect(newer.closeCleanly())
        #expect(FileManager.default.fileExists(atPath: markerPath(dir)))
        #expect(try LogWriter.open(directory: dir.path).opening == .cleanShutdown)
    }

    /// What the marker vouches for is durable before it: each file's size at its last fsync
    /// (as the file layer records them) is the size the marker names. A power loss after the
    /// marker then leaves exactly those files; one whose fsync were skipped would be cut back.
    @Test func everythingTheMarkerVouchesForWasSyncedBeforeIt() throws {
        FileSyncRecord.sizes.withLock { if $0 == nil { $0 = [:] } }
        let clock = TestClock(1_700_000_000_000)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try LogWriter.open(directory: dir.path, config: config(clock))
        try writeHistory(writer, round: 0, clock: clock)
        try writer.beginTransaction()
        try writer.append([record("last, its markers unsynced")], to: orders)
        try writer.commit(metadata: [1])
        #expect(writer.closeCleanly())
        let marker = try CleanShutdownMarker.decode(try #require(try FileIO.readFile(markerPath(dir))))
        #expect(Set(marker.partitions.keys) == Set([orders, payments, plain].map(\.directoryName) + [TransactionLog.directoryName]))
        let synced = FileSyncRecord.sizes.withLock { $0 ?? [:] }
        for (name, partition) in marker.partitions {
            let files = SegmentFiles(directory: dir.file(name), baseOffset: partition.segment.baseOffset)
            let vouched: [(String, Int64)] = [
                ("log", partition.segment.logSize), (OffsetIndex.suffix, partition.segment.offsetIndexSize),
                (TimeIndex.suffix, partition.segment.timeIndexSize), (LSNIndex.suffix, partition.segment.lsnIndexSize),
                (TxnIndex.suffix, partition.segment.txnIndexSize),
            ]
            for (suffix, size) in vouched {
                #expect(synced[files.path(suffix)] == size, "\(name) .\(suffix): fsynced at \(synced[files.path(suffix)] ?? -1), the marker says \(size)")
            }
        }
        #expect(synced[markerPath(dir) + ".tmp"] != nil, "the marker itself is written through an fsynced temporary file")
    }

    @Test func theMarkerRoundTripsAndRefusesDamage() throws {
        var entry = ProducerEntry(epoch: 3, openTransactionFirstOffset: nil)
        entry.remember(BatchMetadata(firstSequence: 0, lastSequence: 4, firstOffset: 10, lastOffset: 14))
        let marker = CleanShutdownMarker(partitions: [
            "orders-0": .init(
                segment: ActiveSegmentState(
                    baseOffset: 100, logSize: 4096, offsetIndexSize: 16, timeIndexSize: 24, lsnIndexSize: 12, txnIndexSize: 0,
                    nextOffset: 180, bytesSinceLastIndexEntry: 55, bytesSinceLastLSNLook: 77, lookedForLSN: true,
                    maxTimestampSoFar: 1_700_000_000_123, offsetOfMaxTimestampSoFar: 170, lastTimeIndexTimestamp: 1_700_000_000_100,
                    lastLSNIndexed: 0x1_0000_0010, lastBatchPosition: 4000),
                producers: [7: entry]),
            "__transactions": .init(
                segment: ActiveSegmentState(
                    baseOffset: 0, logSize: 0, offsetIndexSize: 0, timeIndexSize: 0, lsnIndexSize: 0, txnIndexSize: 0, nextOffset: 0,
                    bytesSinceLastIndexEntry: 0, bytesSinceLastLSNLook: 0, lookedForLSN: false, maxTimestampSoFar: -1,
                    offsetOfMaxTimestampSoFar: -1, lastTimeIndexTimestamp: .min, lastLSNIndexed: nil, lastBatchPosition: -1),
                producers: [:]),
        ])
        let encoded = marker.encoded()
        #expect(try CleanShutdownMarker.decode(encoded) == marker)
        for position in [0, encoded.count / 2, encoded.count - 1] {
            var damaged = encoded
            damaged[position] ^= 0x01
            #expect(throws: SegmentLogError.self) { try CleanShutdownMarker.decode(damaged) }
        }
        #expect(throws: SegmentLogError.self) { try CleanShutdownMarker.decode(Array(encoded.dropLast(5))) }
    }
}
