import BinaryIO
import CZstd
import Testing
@testable import SegmentLog

@Suite struct BatchCodecTests {
    let records = [
        Record(key: bytes("k1"), value: bytes("{\"a\":1}"), headers: [RecordHeader(key: "outflow.lsn", text: "0/16B3748")], timestamp: 1_700_000_000_000),
        Record(key: nil, value: nil, headers: [RecordHeader(key: "h", value: nil), RecordHeader(key: "é", value: [0, 255])], timestamp: 1_699_999_999_000),
        Record(key: [], value: [UInt8](repeating: 42, count: 5000), timestamp: 1_700_000_000_500),
    ]

    @Test(arguments: [CompressionCodec.none, .zstd])
    func roundTripKeepsEveryField(codec: CompressionCodec) throws {
        let producer = ProducerIdentity(producerId: 77, epoch: 3)
        let encoded = try BatchCodec.encode(records, baseOffset: 1000, producer: producer, baseSequence: 12, transactional: true, compression: codec)
        let batch = try BatchCodec.decodeBatch(encoded)
        #expect(batch.header.baseOffset == 1000)
        #expect(batch.header.lastOffset == 1002)
        #expect(batch.header.recordsCount == 3)
        #expect(batch.header.compression == codec)
        #expect(batch.header.isTransactional && !batch.header.isControl)
        #expect(batch.header.producerId == 77 && batch.header.producerEpoch == 3 && batch.header.baseSequence == 12)
        #expect(batch.header.lastSequence == 14)
        #expect(batch.header.baseTimestamp == 1_700_000_000_000)
        #expect(batch.header.maxTimestamp == 1_700_000_000_500)
        #expect(batch.header.partitionLeaderEpoch == -1)
        let decoded = try batch.records()
        #expect(decoded.map(\.offset) == [1000, 1001, 1002])
        #expect(decoded.map(\.record) == records)
        #expect(decoded[0].record.sourceLSN == 0x16B_3748)
        if codec == .zstd { #expect(encoded.count < 1000) }
    }

    /// The first record alone (what indexing a batch reads) equals the full decode's first,
    /// whether it fits in the inflated prefix, straddles its end, or is longer than it.
    @Test(arguments: [CompressionCodec.none, .zstd], [10, BatchCodec.firstRecordPrefix - 40, BatchCodec.firstRecordPrefix, 3 * BatchCodec.firstRecordPrefix])
    func firstRecordAloneEqualsTheFullDecodesFirst(codec: CompressionCodec, firstValueBytes: Int) throws {
        var random = SystemRandomNumberGenerator()
        let first = Record(
            key: bytes("first"), value: (0..<firstValueBytes).map { _ in UInt8.random(in: 0...255, using: &random) },
            headers: [RecordHeader(key: "outflow.lsn", text: "1/2A")], timestamp: 1_700_000_000_000)
        let batch = try BatchCodec.decodeBatch(try BatchCodec.encode([first] + records + records, baseOffset: 40, compression: codec))
        let alone = try #require(try batch.firstRecord())
        #expect(alone == (try batch.records().first))
        #expect(alone.offset == 40 && alone.record.sourceLSN == 0x1_0000_002A)
        let single = try BatchCodec.decodeBatch(try BatchCodec.encode([records[2]], baseOffset: 0, compression: codec))
        #expect(try single.firstRecord()?.record == records[2])
    }

    @Test func headerLayoutMatchesTheKafkaFieldOffsets() throws {
        let encoded = try BatchCodec.encode([records[0]], baseOffset: 0x0102_0304_0506_0708, producer: ProducerIdentity(producerId: 5, epoch: 9), baseSequence: 4)
        var reader = SegmentLog.ByteReader(encoded)
        #expect(try reader.readInteger(as: Int64.self) == 0x0102_0304_0506_0708)
        #expect(try reader.readInteger(as: Int32.self) == Int32(encoded.count - 12))
        #expect(try reader.readInteger(as: Int32.self) == -1)
        #expect(try reader.readInteger(as: Int8.self) == 2)
        #expect(try reader.readInteger(as: UInt32.self) == CRC32C.checksum(encoded, from: 21))
        #expect(try reader.readInteger(as: Int16.self) == 0)
        #expect(encoded[43..<51] == [0, 0, 0, 0, 0, 0, 0, 5][...])
        #expect(encoded[51..<53] == [0, 9][...])
        #expect(encoded[53..<57] == [0, 0, 0, 4][...])
        #expect(encoded[57..<61] == [0, 0, 0, 1][...])
    }

    @Test(arguments: [ControlType.abort, .commit])
    func controlBatchIs78BytesWithKafkaMarkerLayout(type: ControlType) throws {
        let encoded = BatchCodec.encodeControl(type, baseOffset: 9, producer: ProducerIdentity(producerId: 1, epoch: 2), timestamp: 123, coordinatorEpoch: 7)
        #expect(encoded.count == 78)
        let batch = try BatchCodec.decodeBatch(encoded)
        #expect(batch.header.attributes == 0x30)
        #expect(batch.header.baseSequence == -1 && batch.header.lastOffsetDelta == 0)
        let record = try #require(batch.records().first)
        #expect(record.key == [0, 0, 0, UInt8(type.rawValue)])
        #expect(record.value == [0, 0, 0, 0, 0, 7])
        #expect(try batch.controlMarker() == ControlMarker(rawType: type.rawValue, coordinatorEpoch: 7))
    }

    @Test func everyFlippedBitIsCaughtByTheCRC() throws {
        let encoded = try BatchCodec.encode(records, baseOffset: 0, compression: .zstd)
        for position in stride(from: 21, to: encoded.count, by: 3) {
            var damaged = encoded
            damaged[position] ^= 0x10
            #expect(throws: SegmentLogError.self) { try BatchCodec.decodeBatch(damaged) }
        }
    }

    @Test func randomGarbageNeverTraps() throws {
        var generator = SeededGenerator(seed: 99)
        let valid = try BatchCodec.encode(records, baseOffset: 0, compression: .none)
        for _ in 0..<3000 {
            var damaged = valid
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            // Recompute the CRC so the damage reaches the record parser, not just the checksum.
            if damaged.count >= 61 { damaged.setInteger(CRC32C.checksum(damaged, from: 21), at: 17) }
            if let batch = try? BatchCodec.decodeBatch(damaged) { _ = try? batch.records() }
        }
        #expect(throws: SegmentLogError.self) { try BatchCodec.decodeBatch(Array(valid.prefix(40))) }
    }

    @Test func decompressionBombIsATypedError() throws {
        let huge = Record(value: [UInt8](repeating: 0, count: 4 << 20), timestamp: 0)
        let encoded = try BatchCodec.encode([huge], baseOffset: 0, compression: .zstd)
        #expect(encoded.count < 2000)
        let batch = try BatchCodec.decodeBatch(encoded)
        #expect { try batch.records(limits: DecodeLimits(maxUncompressedBytes: 1 << 20)) } throws: {
            ($0 as? SegmentLogError)?.code == .decompressionLimitExceeded
        }
        #expect(try batch.records().first?.value?.count == 4 << 20)
    }

    /// The decompression context is kept per thread: a frame abandoned halfway (limit hit,
    /// input cut short) must leave nothing behind for the next batch decoded on that thread.
    @Test func aFailedDecompressionDoesNotAffectTheNext() throws {
        let huge = try BatchCodec.decodeBatch(BatchCodec.encode(
            [Record(value: [UInt8](repeating: 7, count: 4 << 20), timestamp: 0)], baseOffset: 0, compression: .zstd))
        let small = try BatchCodec.decodeBatch(BatchCodec.encode(records, baseOffset: 9, compression: .zstd))
        for _ in 0..<3 {
            #expect(throws: SegmentLogError.self) { try huge.records(limits: DecodeLimits(maxUncompressedBytes: 1 << 20)) }
            #expect(try small.records().map(\.record) == records)
        }
        #expect(try huge.records().first?.value == [UInt8](repeating: 7, count: 4 << 20))
    }

    @Test func readsStreamedFramesWithoutContentSizeAndConcatenatedFrames() throws {
        // What Kafka's Java producer writes: a streamed frame (no content size), here split in two frames.
        let plain = try BatchCodec.encode(records, baseOffset: 50)
        let section = Array(plain[61...])
        let half = section.count / 2
        let compressed = streamCompress(Array(section[..<half])) + streamCompress(Array(section[half...]))
        var batchBytes = Array(plain[..<61]) + compressed
        batchBytes.setInteger(Int32(batchBytes.count - 12), at: 8)
        batchBytes.setInteger(Int16(4), at: 21)
        batchBytes.setInteger(CRC32C.checksum(batchBytes, from: 21), at: 17)
        let decoded = try BatchCodec.decodeBatch(batchBytes).records()
        #expect(decoded.map(\.record) == records)
        // A frame cut short is an error, not a short result.
        var cut = Array(batchBytes.dropLast(3))
        cut.setInteger(Int32(cut.count - 12), at: 8)
        cut.setInteger(CRC32C.checksum(cut, from: 21), at: 17)
        #expect { try BatchCodec.decodeBatch(cut).records() } throws: { ($0 as? SegmentLogError)?.code == .decompressionFailed }
    }

    @Test func unsupportedCodecIsReportedNotGuessed() throws {
        var encoded = try BatchCodec.encode(records, baseOffset: 0)
        encoded.setInteger(Int16(1), at: 21)
        encoded.setInteger(CRC32C.checksum(encoded, from: 21), at: 17)
        #expect { try BatchCodec.decodeBatch(encoded).records() } throws: { ($0 as? SegmentLogError)?.code == .unsupportedCompression }
    }

    private func streamCompress(_ input: [UInt8]) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count) + 64)
        var produced = 0
        input.withUnsafeBytes { inRaw in
            output.withUnsafeMutableBytes { outRaw in
                var inBuffer = ZSTD_inBuffer(src: inRaw.baseAddress, size: inRaw.count, pos: 0)
                var outBuffer = ZSTD_outBuffer(dst: outRaw.baseAddress, size: outRaw.count, pos: 0)
                _ = ZSTD_compressStream2(context, &outBuffer, &inBuffer, ZSTD_e_continue)
                while ZSTD_compressStream2(context, &outBuffer, &inBuffer, ZSTD_e_end) != 0 {}
                produced = outBuffer.pos
            }
        }
        #expect(ZSTD_getFrameContentSize(output, produced) == ZSTD_CONTENTSIZE_UNKNOWN)
        return Array(output[..<produced])
    }
}
