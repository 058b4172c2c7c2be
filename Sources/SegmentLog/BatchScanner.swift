import BinaryIO
/// A batch found in a segment file at `position`, CRC checked.
struct ScannedBatch {
    var position: Int64
    var batch: RecordBatch
    var header: BatchHeader { batch.header }
}

/// What a scan found at its position.
enum ScanStep {
    case batch(ScannedBatch)
    /// Clean end of the file (at its size).
    case end(position: Int64)
    /// Bytes that are not (yet) a whole batch: too short for a header or running past the end.
    case incomplete(position: Int64)
    /// A complete-looking batch that fails its checks (CRC, magic, length).
    case damaged(position: Int64, length: Int64?, error: SegmentLogError)
}

/// Walks a segment file batch by batch through a read-ahead window, so small batches do not
/// cost a system call each. Lengths come from disk: they are checked against the file size and
/// the batch limit before any buffer of that size exists.
struct BatchScanner {
    let file: FileHandleBox
    let fileSize: Int64
    let limits: DecodeLimits
    private(set) var position: Int64
    private var window: [UInt8] = []
    private var windowStart: Int64 = 0
    private let windowSize = 1 << 20

    init(file: FileHandleBox, from position: Int64, fileSize: Int64, limits: DecodeLimits) {
        self.file = file
        self.position = position
        self.fileSize = fileSize
        self.limits = limits
    }

    private mutating func bytes(at start: Int64, count: Int) throws(SegmentLogError) -> [UInt8] {
        if start >= windowStart, start + Int64(count) <= windowStart + Int64(window.count) {
            let from = Int(start - windowStart)
            return Array(window[from..<from + count])
        }
        if count >= windowSize { return try file.read(count: count, at: start) }
        window = try file.read(count: Int(min(Int64(windowSize), fileSize - start)), at: start)
        windowStart = start
        return Array(window.prefix(count))
    }

    mutating func next() throws(SegmentLogError) -> ScanStep {
        let remaining = fileSize - position
        if remaining <= 0 { return .end(position: position) }
        if remaining < Int64(BatchHeader.size) { return .incomplete(position: position) }
        let head = try bytes(at: position, count: BatchHeader.size)
        let (length, magic) = try BatchHeader.peekLength(head, at: 0)
        let total = Int64(length) + Int64(BatchHeader.logOverhead)
        guard magic == 2, total >= Int64(BatchHeader.size), total <= Int64(limits.maxBatchBytes) else {
            let error = SegmentLogError(.malformedBatch, "no batch here: length \(length), magic \(magic)")
            return .damaged(position: position, length: total >= Int64(BatchHeader.size) ? total : nil, error: error)
        }
        if total > remaining { return .incomplete(position: position) }
        let whole = try bytes(at: position, count: Int(total))
        do {
            let batch = try BatchCodec.decodeBatch(whole, limits: limits)
            let found = ScannedBatch(position: position, batch: batch)
            position += total
            return .batch(found)
        } catch {
            return .damaged(position: position, length: total, error: error)
        }
    }

    /// Skips to `position` (a batch start known from an index).
    mutating func seek(to newPosition: Int64) { position = newPosition }

    /// After damage at `position` with a plausible `length`: is there a good batch right after?
    /// That tells corruption in the middle (an error) from a torn tail (truncated away).
    mutating func validBatchFollows(damageAt position: Int64, length: Int64?) throws(SegmentLogError) -> Bool {
        guard let length, position + length < fileSize else { return false }
        var probe = BatchScanner(file: file, from: position + length, fileSize: fileSize, limits: limits)
        if case .batch = try probe.next() { return true }
        return false
    }
}
