import BinaryIO
/// The last batches a producer appended to one partition, to recognise a retried append.
struct BatchMetadata: Hashable, Sendable {
    var firstSequence: Int32
    var lastSequence: Int32
    var firstOffset: Int64
    var lastOffset: Int64
}

/// What a partition knows about one producer: its epoch, the last five batches (Kafka's
/// duplicate window) and the first offset of its open transaction, if any.
struct ProducerEntry: Hashable, Sendable {
    static let deduplicationWindow = 5

    var epoch: Int16
    var recentBatches: [BatchMetadata] = []
    var openTransactionFirstOffset: Int64?

    var nextSequence: Int32 {
        guard let last = recentBatches.last else { return 0 }
        return last.lastSequence == Int32.max ? 0 : last.lastSequence + 1
    }

    mutating func remember(_ batch: BatchMetadata) {
        recentBatches.append(batch)
        if recentBatches.count > Self.deduplicationWindow { recentBatches.removeFirst() }
    }

    func duplicate(firstSequence: Int32, lastSequence: Int32) -> BatchMetadata? {
        recentBatches.first { $0.firstSequence == firstSequence && $0.lastSequence == lastSequence }
    }
}

/// Producer state of a partition at a segment boundary: written as `<base offset>.pstate`
/// when the segment is created (before it can hold data), so recovery only has to replay the
/// active segment. It also records when the segment was created by the writer's clock, which
/// is when the previous segment was sealed (for retention). Own format: version int16 = 2,
/// created-at int64 (ms), count int32, then per producer: id int64, epoch int16, open
/// transaction first offset int64 (-1 none); CRC-32C of all of it at the end.
enum ProducerSnapshot {
    static let suffix = "pstate"
    static let version: Int16 = 2

    static func encode(_ producers: [Int64: ProducerEntry], createdAt: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.appendInteger(version)
        out.appendInteger(createdAt)
        out.appendInteger(Int32(producers.count))
        for (id, entry) in producers.sorted(by: { $0.key < $1.key }) {
            out.appendInteger(id)
            out.appendInteger(entry.epoch)
            out.appendInteger(entry.openTransactionFirstOffset ?? -1)
        }
        out.appendInteger(CRC32C.checksum(out))
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(SegmentLogError) -> (producers: [Int64: ProducerEntry], createdAt: Int64) {
        guard bytes.count >= 18, CRC32C.checksum(bytes, from: 0, to: bytes.count - 4)
            == (try ByteReader(bytes, from: bytes.count - 4).peekInteger("checksum", as: UInt32.self))
        else { throw SegmentLogError(.corruptStateFile, "producer snapshot fails its checksum") }
        var reader = ByteReader(bytes, from: 0, to: bytes.count - 4)
        guard try reader.readInteger(as: Int16.self) == version else {
            throw SegmentLogError(.corruptStateFile, "unknown producer snapshot version")
        }
        let createdAt: Int64 = try reader.readInteger()
        let count = Int(try reader.readInteger(as: Int32.self))
        guard count >= 0, count * 18 == reader.remaining else {
            throw SegmentLogError(.corruptStateFile, "producer snapshot count \(count) does not match its size")
        }
        var producers: [Int64: ProducerEntry] = [:]
        for _ in 0..<count {
            let id: Int64 = try reader.readInteger()
            let epoch: Int16 = try reader.readInteger()
            let first: Int64 = try reader.readInteger()
            producers[id] = ProducerEntry(epoch: epoch, openTransactionFirstOffset: first >= 0 ? first : nil)
        }
        return (producers, createdAt)
    }
}
