import BinaryIO
/// The findings of `LogVerifier`.
public struct VerificationReport: Sendable {
    public enum Severity: String, Sendable { case error, warning }

    public struct Finding: Sendable, CustomStringConvertible {
        public var severity: Severity
        public var path: String
        public var message: String
        public var description: String { "\(severity): \(path): \(message)" }
    }

    public var findings: [Finding] = []
    public var partitions = 0
    public var segments = 0
    public var batches = 0
    public var records = 0
    public var commits = 0
    public var aborts = 0
    public var commitRecords = 0

    public var errors: [Finding] { findings.filter { $0.severity == .error } }
    public var isHealthy: Bool { errors.isEmpty }

    mutating func error(_ path: String, _ message: String) { findings.append(Finding(severity: .error, path: path, message: message)) }
    mutating func warning(_ path: String, _ message: String) { findings.append(Finding(severity: .warning, path: path, message: message)) }
}

/// How far `LogVerifier.verify` is: segment bytes read of all the partitions' segments.
public struct VerificationProgress: Sendable {
    public var partitionsDone = 0
    public var partitions = 0
    public var bytesDone: Int64 = 0
    public var bytes: Int64 = 0
    /// The partition being read.
    public var current = ""
}

/// Read-only check of a whole log directory: every batch (CRC, offsets, records), every
/// index entry against the batches it points at, every `.txnindex` entry against its ABORT
/// marker, every commit record in `__transactions` against the partitions it names.
public enum LogVerifier {
    /// `progress` is called after each segment (and once before the first), on the caller's thread.
    public static func verify(
        directory: String, limits: DecodeLimits = .default, progress: (VerificationProgress) -> Void = { _ in }
    ) throws -> VerificationReport {
        var report = VerificationReport()
        let reader = try LogReader(directory: directory, limits: limits)
        var markers: [TopicPartition: [Int64: [(offset: Int64, type: ControlType?)]]] = [:]
        let partitions = try reader.partitions()
        var tracker = VerificationProgress()
        tracker.partitions = partitions.count
        for tp in partitions {
            let segments = SegmentDirectory(path: directory + "/" + tp.directoryName)
            for base in try segments.baseOffsets() { tracker.bytes += FileIO.size(atPath: segments.files(base).log) ?? 0 }
        }
        progress(tracker)
        for tp in partitions {
            report.partitions += 1
            tracker.current = tp.directoryName
            markers[tp] = try verifyPartition(directory + "/" + tp.directoryName, limits: limits, report: &report) { segmentBytes in
                tracker.bytesDone += segmentBytes
                progress(tracker)
            }
            tracker.partitionsDone += 1
        }
        try verifyTransactionLog(directory + "/" + TransactionLog.directoryName, markers: markers, limits: limits, report: &report)
        return report
    }

    private struct BatchFacts {
        var position: Int64
        var header: BatchHeader
        var firstLSN: UInt64?
    }

    /// Returns, per producer, the markers found (for the commit record check).
    private static func verifyPartition(
        _ path: String, limits: DecodeLimits, report: inout VerificationReport, segmentRead: (Int64) -> Void
    ) throws -> [Int64: [(offset: Int64, type: ControlType?)]] {
        let directory = SegmentDirectory(path: path)
        let bases = try directory.baseOffsets()
        var open: [Int64: Int64] = [:]
        var markers: [Int64: [(offset: Int64, type: ControlType?)]] = [:]
        var nextOffset: Int64 = bases.first ?? 0
        for (index, base) in bases.enumerated() {
            report.segments += 1
            let files = directory.files(base)
            defer { segmentRead(FileIO.size(atPath: files.log) ?? 0) }
            let isLast = index == bases.count - 1
            if index > 0 && base != nextOffset {
                report.error(files.log, "segment starts at offset \(base) but the previous one ends at \(nextOffset): records are missing")
            }
            if index > 0 && !FileIO.exists(files.path(ProducerSnapshot.suffix)) {
                report.warning(files.path(ProducerSnapshot.suffix), "producer snapshot missing")
            }
            var batches: [BatchFacts] = []
            var abortedHere: [AbortedTransaction] = []
            let damage = try SegmentInspector.inspect(segment: files.log, withRecords: false, limits: limits) { batch in
                guard batch.crcValid else { return }
                report.batches += 1
                let header = batch.header
                if header.baseOffset < nextOffset {
                    report.error(files.log, "batch at byte \(batch.position) has offset \(header.baseOffset), expected >= \(nextOffset)")
                }
                nextOffset = max(nextOffset, header.nextOffset)
                if let error = batch.recordError {
                    report.error(files.log, "batch at offset \(header.baseOffset) (byte \(batch.position)): \(error.message)")
                }
                var lsn: UInt64?
                if !header.isControl {
                    report.records += Int(header.recordsCount)
                    lsn = batch.records?.first?.record.sourceLSN
                }
                batches.append(BatchFacts(position: batch.position, header: header, firstLSN: lsn))
                guard header.hasProducerId && header.isTransactional else { return }
                if header.isControl {
                    let type = batch.marker?.type
                    markers[header.producerId, default: []].append((header.baseOffset, type))
                    if type == .commit { report.commits += 1 }
                    if type == .abort {
                        report.aborts += 1
                        if let first = open[header.producerId] {
                            abortedHere.append(AbortedTransaction(producerId: header.producerId, firstOffset: first, lastOffset: header.baseOffset, lastStableOffset: 0))
                        }
                    }
                    open[header.producerId] = nil
                } else if open[header.producerId] == nil {
                    open[header.producerId] = header.baseOffset
                }
            }
            if let damage {
                if damage.atTail && isLast {
                    report.warning(files.log, "torn tail at byte \(damage.position) (\(damage.error.message)); the next writer open truncates it")
                } else {
                    report.error(files.log, "damaged batch at byte \(damage.position): \(damage.error.message)")
                }
            }
            // Behind a torn tail the indexes may point into the lost bytes; the next writer
            // open rebuilds them, so that is worth a warning only.
            let tornTail = damage.map { $0.atTail && isLast } ?? false
            // Past real damage the batches are unknown, so index findings would only be noise.
            if damage != nil && !tornTail { continue }
            var indexReport = VerificationReport()
            try verifyIndexes(files, batches: batches, aborted: abortedHere, report: &indexReport)
            for finding in indexReport.findings {
                report.findings.append(tornTail ? .init(severity: .warning, path: finding.path, message: finding.message) : finding)
            }
        }
        for (producer, first) in open.sorted(by: { $0.key < $1.key }) {
            report.warning(path, "transaction of producer \(producer) from offset \(first) has no marker (open, or in doubt until the next writer open)")
        }
        return markers
    }

    private static func verifyIndexes(
        _ files: SegmentFiles, batches: [BatchFacts], aborted: [AbortedTransaction], report: inout VerificationReport
    ) throws {
        let logSize = batches.last.map { $0.position + Int64($0.header.sizeInBytes) } ?? 0
        let byPosition = Dictionary(batches.map { ($0.position, $0) }, uniquingKeysWith: { a, _ in a })
        let byBaseOffset = Dictionary(batches.map { ($0.header.baseOffset, $0) }, uniquingKeysWith: { a, _ in a })
        func load(_ suffix: String) throws -> [UInt8]? {
            let bytes = try FileIO.readFile(files.path(suffix))
            if bytes == nil { report.error(files.path(suffix), "index file missing (rebuilt on the next writer open)") }
            return bytes
        }
        do {
            if let bytes = try load(OffsetIndex.suffix) {
                for entry in try OffsetIndex.decode(bytes, logSize: max(logSize, 1)) {
                    let batch = byPosition[Int64(entry.position)]
                    if batch?.header.lastOffset != files.baseOffset + Int64(entry.relativeOffset) {
                        report.error(files.path(OffsetIndex.suffix), "entry \(entry.relativeOffset)→\(entry.position) does not point at the batch ending at that offset")
                    }
                }
            }
        } catch let error as SegmentLogError { report.error(files.path(OffsetIndex.suffix), error.message) }
        do {
            if let bytes = try load(TimeIndex.suffix) {
                for entry in try TimeIndex.decode(bytes) {
                    let offset = files.baseOffset + Int64(entry.relativeOffset)
                    let largest = batches.filter { $0.header.lastOffset <= offset }.map(\.header.maxTimestamp).max()
                    if largest != entry.timestamp {
                        report.error(files.path(TimeIndex.suffix), "entry (\(entry.timestamp), \(offset)): the largest timestamp up to that offset is \(largest.map(String.init) ?? "none")")
                    }
                }
            }
        } catch let error as SegmentLogError { report.error(files.path(TimeIndex.suffix), error.message) }
        do {
            if let bytes = try load(LSNIndex.suffix) {
                for entry in try LSNIndex.decode(bytes) {
                    let batch = byBaseOffset[files.baseOffset + Int64(entry.relativeOffset)]
                    if batch?.firstLSN != entry.lsn {
                        report.error(files.path(LSNIndex.suffix), "entry \(SourcePosition.format(entry.lsn)) at relative offset \(entry.relativeOffset) does not match the batch there")
                    }
                }
            }
        } catch let error as SegmentLogError { report.error(files.path(LSNIndex.suffix), error.message) }
        do {
            if let bytes = try load(TxnIndex.suffix) {
                let entries = try TxnIndex.decode(bytes)
                let stored = entries.map { [$0.producerId, $0.firstOffset, $0.lastOffset] }
                let found = aborted.map { [$0.producerId, $0.firstOffset, $0.lastOffset] }
                // Markers whose transaction began in an earlier segment are only checked by offset.
                for entry in entries where !aborted.contains(where: { $0.producerId == entry.producerId && $0.lastOffset == entry.lastOffset }) {
                    report.error(files.path(TxnIndex.suffix), "aborted transaction \(entry.producerId) \(entry.firstOffset)...\(entry.lastOffset) has no ABORT marker there")
                }
                for missing in found where !stored.contains(missing) {
                    report.error(files.path(TxnIndex.suffix), "ABORT marker at \(missing[2]) of transaction from \(missing[1]) has no index entry")
                }
            }
        } catch let error as SegmentLogError { report.error(files.path(TxnIndex.suffix), error.message) }
    }

    private static func verifyTransactionLog(
        _ path: String, markers: [TopicPartition: [Int64: [(offset: Int64, type: ControlType?)]]], limits: DecodeLimits,
        report: inout VerificationReport
    ) throws {
        guard FileIO.exists(path) else { return }
        let directory = SegmentDirectory(path: path)
        let bases = try directory.baseOffsets()
        var lastId: Int64?
        var newest: CommitRecord?
        for (index, base) in bases.enumerated() {
            let log = directory.files(base).log
            let damage = try SegmentInspector.inspect(segment: log, withRecords: true, limits: limits) { batch in
                guard batch.crcValid, let records = batch.records else { return }
                for stored in records {
                    guard let value = stored.value else { report.error(log, "commit record without a value at offset \(stored.offset)"); continue }
                    do {
                        let record = try CommitRecord.decode(value)
                        report.commitRecords += 1
                        if let lastId, record.transactionId != lastId + 1 {
                            report.error(log, "commit record \(record.transactionId) follows \(lastId)")
                        }
                        lastId = record.transactionId
                        newest = record
                    } catch let error as SegmentLogError {
                        report.error(log, "commit record at offset \(stored.offset): \(error.message)")
                    }
                }
            }
            if let damage {
                if damage.atTail && index == bases.count - 1 { report.warning(log, "torn tail at byte \(damage.position)") }
                else { report.error(log, "damaged batch at byte \(damage.position): \(damage.error.message)") }
            }
        }
        // The newest commit's COMMIT markers may still be missing (recovery writes them); any
        // marker found right after its data must be a COMMIT, never an ABORT.
        guard let newest else { return }
        for range in newest.ranges {
            guard let partitionMarkers = markers[range.topicPartition]?[newest.producer.producerId] else {
                if markers[range.topicPartition] == nil { continue }  // partition deleted or fully expired
                report.warning(path, "commit \(newest.transactionId): no marker yet in \(range.topicPartition)")
                continue
            }
            if let marker = partitionMarkers.first(where: { $0.offset > range.lastOffset }), marker.type != .commit {
                report.error(path, "commit \(newest.transactionId): \(range.topicPartition) has \(marker.type.map(String.init(describing:)) ?? "an unknown marker") after offset \(range.lastOffset)")
            }
        }
    }
}
