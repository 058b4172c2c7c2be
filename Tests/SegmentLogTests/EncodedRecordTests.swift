import Foundation
import Testing
@testable import SegmentLog

@Suite struct EncodedRecordTests {
    @Test func aBodyDecodesToTheRecordItWasMadeFromAndNamesItsSourceLSN() throws {
        let records = [
            Record(key: nil, value: nil, headers: [], timestamp: 5),
            Record(key: [], value: bytes("v"), headers: [RecordHeader(key: "h", value: nil), RecordHeader(key: "", value: [])], timestamp: -1),
            record("with-lsn", lsn: 0x1_0000_00AB),
        ]
        for original in records {
            let encoded = try EncodedRecord(original)
            #expect(try encoded.decoded() == original)
            #expect(encoded.sourceLSN == original.sourceLSN)
        }
        #expect(try EncodedRecord(records[2]).sourceLSN == 0x1_0000_00AB)
        #expect(EncodedRecord(timestamp: 0, body: [0x7F]).sourceLSN == nil)  // damaged: no LSN, no crash
    }

    /// A trailer is the end of the body kept apart: the batch holds the same bytes.
    @Test func aTrailerIsPartOfTheRecord() throws {
        let whole = try EncodedRecord(record("t", lsn: 0xABC))
        let split = whole.body.count - 20
        let parted = EncodedRecord(timestamp: whole.timestamp, body: Array(whole.body[..<split]), trailer: Array(whole.body[split...]))
        #expect(parted.size == whole.size)
        #expect(try parted.decoded() == whole.decoded())
        #expect(parted.sourceLSN == 0xABC)
        #expect(try BatchCodec.prepare([parted, parted], compression: .none, zstdLevel: 3).section
            == BatchCodec.prepare([whole, whole], compression: .none, zstdLevel: 3).section)
    }

    /// `prepare` + `assemble` are the batch `encode` makes, and decode to the same records.
    @Test func aPreparedBatchAssemblesToTheEncodedOne() throws {
        let records = (0..<50).map { record("r\($0)", lsn: UInt64(100 + $0), timestamp: 1_700_000_000_000 + Int64($0 % 7)) }
        for compression in [CompressionCodec.none, .zstd] {
            let encoded = try BatchCodec.encode(
                records, baseOffset: 42, producer: ProducerIdentity(producerId: 7, epoch: 1), baseSequence: 3, transactional: true,
                compression: compression)
            let prepared = try BatchCodec.prepare(records.map { try EncodedRecord($0) }, compression: compression, zstdLevel: 3)
            #expect(prepared.firstSourceLSN == 100)
            let assembled = BatchCodec.assemble(
                prepared, baseOffset: 42, producer: ProducerIdentity(producerId: 7, epoch: 1), baseSequence: 3, transactional: true)
            #expect(assembled == encoded)
            let decoded = try BatchCodec.decodeBatch(assembled).records()
            #expect(decoded.map(\.record) == records)
            #expect(decoded.map(\.offset) == Array(42..<92))
        }
    }

    /// Several partitions in one call, large enough that their batches are prepared on several
    /// threads: every record lands in its partition, in order, with the offsets reported.
    @Test func appendingSeveralPartitionsAtOnceKeepsEachInOrder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = LogConfig()
        config.maxBatchBytes = 64 << 10  // many batches per partition
        let writer = try LogWriter.open(directory: dir.path, config: config)
        let partitions = try (0..<3).map { try TopicPartition(topic: "orders", partition: Int32($0)) }
        let payload = String(repeating: "x", count: 200)
        let appends = try partitions.enumerated().map { index, tp in
            (tp, try (0..<(1500 + 100 * index)).map { try EncodedRecord(record("\(tp.partition)-\($0)-\(payload)")) })
        }
        #expect(appends.reduce(0) { $0 + $1.1.reduce(0) { $0 + $1.size } } >= LogWriter.concurrentPrepareBytes)
        try writer.beginTransaction()
        let results = try writer.append(appends)
        #expect(results.map(\.firstOffset) == [0, 0, 0])
        #expect(results.map(\.lastOffset) == appends.map { Int64($0.1.count - 1) })
        try writer.commit(metadata: [])
        for (tp, records) in appends {
            #expect(try readAll(dir.path, tp) == records.map { text(try $0.decoded().value) ?? "<null>" })
        }
        writer.close()
    }
}
