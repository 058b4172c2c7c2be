import BinaryIO

/// Where a segment's writer stood: the file sizes of the segment and its four indexes, and
/// what `Segment` keeps in memory while it appends (the index spacing counters, the largest
/// timestamp so far, the last LSN indexed, the position of the last batch). With it a segment
/// can go on being written without reading it through again.
struct ActiveSegmentState: Hashable, Sendable {
    var baseOffset: Int64
    var logSize: Int64
    var offsetIndexSize: Int64
    var timeIndexSize: Int64
    var lsnIndexSize: Int64
    var txnIndexSize: Int64
    var nextOffset: Int64
    var bytesSinceLastIndexEntry: Int64
    var bytesSinceLastLSNLook: Int64
    var lookedForLSN: Bool
    var maxTimestampSoFar: Int64
    var offsetOfMaxTimestampSoFar: Int64
    var lastTimeIndexTimestamp: Int64
    var lastLSNIndexed: UInt64?
    /// Where the segment's last batch starts; -1 when it has none.
    var lastBatchPosition: Int64

    /// Why the files on disk are not the ones this state describes, or nil when they are.
    /// Sizes are what can be checked without reading the files: a segment appended to or cut
    /// after the clean shutdown, or an index rebuilt or deleted, no longer matches.
    func mismatch(activeBaseOffset: Int64, sizeOf: (String) -> Int64?) -> String? {
        guard activeBaseOffset == baseOffset else {
            return "the active segment starts at offset \(activeBaseOffset), the marker names \(baseOffset)"
        }
        let expected: [(String, Int64)] = [
            ("log", logSize), (OffsetIndex.suffix, offsetIndexSize), (TimeIndex.suffix, timeIndexSize),
            (LSNIndex.suffix, lsnIndexSize), (TxnIndex.suffix, txnIndexSize),
        ]
        for (suffix, size) in expected {
            let actual = sizeOf(suffix)
            guard actual == size else {
                return "\(SegmentFileName.name(baseOffset, suffix)) is \(actual.map { "\($0) bytes" } ?? "missing"), the marker says \(size) bytes"
            }
        }
        return nil
    }
}

/// The clean shutdown marker (`<log dir>/clean-shutdown`), written by `LogWriter.closeCleanly`
/// once everything it describes is durable: per partition directory (and `__transactions`), the
/// state of its active segment and its producers at the end of the log. An open that finds it,
/// and finds every file the size it says, takes the partition's state from it instead of
/// reading the active segment through (Kafka's `.kafka_cleanshutdown` plays the same part).
/// The writer deletes it, and syncs the directory, before it writes anything, so a crash
/// after an open is never taken for a clean shutdown.
///
/// Own format: version int16 = 1, partition count int32, then per partition: directory name
/// (int16 length, UTF-8), the `ActiveSegmentState` fields (int64 each; `lookedForLSN` int8;
/// `lastLSNIndexed` int8 present + uint64), producer count int32 and per producer: id int64,
/// epoch int16, open transaction first offset int64 (-1 none), recent batch count int8 and per
/// batch first and last sequence int32, first and last offset int64; CRC-32C of all of it.
struct CleanShutdownMarker: Hashable, Sendable {
    static let fileName = "clean-shutdown"
    static let version: Int16 = 1

    struct Partition: Hashable, Sendable {
        var segment: ActiveSegmentState
        var producers: [Int64: ProducerEntry]
    }

    /// By partition directory name (`orders-0`, `__transactions`).
    var partitions: [String: Partition]

    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendInteger(Self.version)
        out.appendInteger(Int32(partitions.count))
        for (name, partition) in partitions.sorted(by: { $0.key < $1.key }) {
            let nameBytes = Array(name.utf8)
            out.appendInteger(Int16(nameBytes.count))
            out.append(contentsOf: nameBytes)
            let s = partition.segment
            for value in [
                s.baseOffset, s.logSize, s.offsetIndexSize, s.timeIndexSize, s.lsnIndexSize, s.txnIndexSize, s.nextOffset,
                s.bytesSinceLastIndexEntry, s.bytesSinceLastLSNLook, s.maxTimestampSoFar, s.offsetOfMaxTimestampSoFar,
                s.lastTimeIndexTimestamp, s.lastBatchPosition,
            ] { out.appendInteger(value) }
            out.appendInteger(UInt8(s.lookedForLSN ? 1 : 0))
            out.appendInteger(UInt8(s.lastLSNIndexed == nil ? 0 : 1))
            out.appendInteger(s.lastLSNIndexed ?? 0)
            out.appendInteger(Int32(partition.producers.count))
            for (id, entry) in partition.producers.sorted(by: { $0.key < $1.key }) {
                out.appendInteger(id)
                out.appendInteger(entry.epoch)
                out.appendInteger(entry.openTransactionFirstOffset ?? -1)
                out.appendInteger(UInt8(entry.recentBatches.count))
                for batch in entry.recentBatches {
                    out.appendInteger(batch.firstSequence)
                    out.appendInteger(batch.lastSequence)
                    out.appendInteger(batch.firstOffset)
                    out.appendInteger(batch.lastOffset)
                }
            }
        }
        out.appendInteger(CRC32C.checksum(out))
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(SegmentLogError) -> CleanShutdownMarker {
        guard bytes.count >= 10, CRC32C.checksum(bytes, from: 0, to: bytes.count - 4)
            == (try ByteReader(bytes, from: bytes.count - 4).peekInteger("checksum", as: UInt32.self))
        else { throw SegmentLogError(.corruptStateFile, "clean shutdown marker fails its checksum") }
        var reader = ByteReader(bytes, from: 0, to: bytes.count - 4)
        let version: Int16 = try reader.readInteger()
        guard version == Self.version else { throw SegmentLogError(.corruptStateFile, "clean shutdown marker version \(version)") }
        let count = Int(try reader.readInteger(as: Int32.self))
        guard count >= 0, count <= reader.remaining / 100 else {
            throw SegmentLogError(.corruptStateFile, "clean shutdown marker with \(count) partitions")
        }
        var partitions: [String: Partition] = [:]
        for _ in 0..<count {
            let nameLength = Int(try reader.readInteger(as: Int16.self))
            let name = String(decoding: try reader.readBytes(count: nameLength, "partition name"), as: UTF8.self)
            var values: [Int64] = []
            for _ in 0..<13 { values.append(try reader.readInteger()) }
            let looked: UInt8 = try reader.readInteger()
            let hasLSN: UInt8 = try reader.readInteger()
            let lsn: UInt64 = try reader.readInteger()
            let segment = ActiveSegmentState(
                baseOffset: values[0], logSize: values[1], offsetIndexSize: values[2], timeIndexSize: values[3],
                lsnIndexSize: values[4], txnIndexSize: values[5], nextOffset: values[6], bytesSinceLastIndexEntry: values[7],
                bytesSinceLastLSNLook: values[8], lookedForLSN: looked != 0, maxTimestampSoFar: values[9],
                offsetOfMaxTimestampSoFar: values[10], lastTimeIndexTimestamp: values[11], lastLSNIndexed: hasLSN != 0 ? lsn : nil,
                lastBatchPosition: values[12])
            let producerCount = Int(try reader.readInteger(as: Int32.self))
            guard producerCount >= 0, producerCount <= reader.remaining / 19 else {
                throw SegmentLogError(.corruptStateFile, "clean shutdown marker with \(producerCount) producers in \(name)")
            }
            var producers: [Int64: ProducerEntry] = [:]
            for _ in 0..<producerCount {
                let id: Int64 = try reader.readInteger()
                var entry = ProducerEntry(epoch: try reader.readInteger())
                let first: Int64 = try reader.readInteger()
                entry.openTransactionFirstOffset = first >= 0 ? first : nil
                let batches: UInt8 = try reader.readInteger()
                for _ in 0..<batches {
                    entry.recentBatches.append(BatchMetadata(
                        firstSequence: try reader.readInteger(), lastSequence: try reader.readInteger(),
                        firstOffset: try reader.readInteger(), lastOffset: try reader.readInteger()))
                }
                producers[id] = entry
            }
            partitions[name] = Partition(segment: segment, producers: producers)
        }
        guard reader.isAtEnd else { throw SegmentLogError(.corruptStateFile, "bytes left over in the clean shutdown marker") }
        return CleanShutdownMarker(partitions: partitions)
    }
}
