import BinaryIO
import SegmentLog

#if canImport(Glibc)
import Glibc
#endif

/// A bucket of older keys, on disk: the slots of a `DigestTable` as they were when it was
/// sealed, behind a 64-byte header, never changed afterwards. In memory only its filter and an
/// open descriptor remain; a lookup that passes the filter reads the slots it probes with
/// `pread` (1 KiB at a time), so what the file holds counts against the page cache, not the
/// process.
///
/// `bucket-<generation>.ddb`: magic `ODSB`, version, generation, capacity, count, base time,
/// first and last time, CRC-32C of the slots, CRC-32C of the header before it (big-endian).
final class SealedBucket {
    let reference: DedupeManifest.Bucket
    let path: String
    private let file: OpenFile<DedupeStateError>
    private let filter: DigestFilter
    /// Where lookups read slots (the stage runs on one thread).
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: probeSlots * DigestSlot.size, alignment: 16)

    static let headerSize = 64
    static let magic: [UInt8] = Array("ODSB".utf8)
    static let version: UInt8 = 1
    /// Slots read at a time by a lookup.
    static let probeSlots = 64

    static func fileName(_ generation: UInt64) -> String { "bucket-\(generation).ddb" }

    var count: Int { Int(reference.count) }
    var fileBytes: Int64 { Int64(Self.headerSize) + Int64(reference.capacity) * Int64(DigestSlot.size) }
    var memoryBytes: Int { filter.byteCount }

    private init(reference: DedupeManifest.Bucket, path: String, file: OpenFile<DedupeStateError>, filter: DigestFilter) {
        self.reference = reference
        self.path = path
        self.file = file
        self.filter = filter
    }

    deinit { scratch.deallocate() }

    /// Writes `table` as bucket `generation` in `directory` and fsyncs it (the directory entry
    /// is made durable by the caller, once for every file of a commit).
    static func seal(_ table: DigestTable, generation: UInt64, directory: String) throws(DedupeStateError) -> SealedBucket {
        let path = directory + "/" + fileName(generation)
        let slotsChecksum = try table.withSlotBytes { raw throws(DedupeStateError) in CRC32C.update(0, raw) }
        let reference = DedupeManifest.Bucket(
            generation: generation, capacity: UInt64(table.capacity), count: UInt64(table.count), baseTime: table.baseTime,
            minTime: table.minTime, maxTime: table.maxTime, slotsChecksum: slotsChecksum)
        let file = try OpenFile<DedupeStateError>(path: path, flags: O_RDWR | O_CREAT | O_TRUNC)
        try file.write(header(reference), at: 0)
        try table.withSlotBytes { raw throws(DedupeStateError) in
            try POSIXFile<DedupeStateError>.write(file.fd, raw, at: Int64(headerSize), path: path)
        }
        try file.sync()
        let filter = DigestFilter(expectedKeys: table.count)
        table.forEachDigest { filter.insert($0) }
        return SealedBucket(reference: reference, path: path, file: file, filter: filter)
    }

    static func header(_ reference: DedupeManifest.Bucket) -> [UInt8] {
        var bytes = magic
        bytes.append(version)
        bytes.append(contentsOf: [0, 0, 0])
        bytes.appendInteger(reference.generation)
        bytes.appendInteger(reference.capacity)
        bytes.appendInteger(reference.count)
        bytes.appendInteger(reference.baseTime)
        bytes.appendInteger(reference.minTime)
        bytes.appendInteger(reference.maxTime)
        bytes.appendInteger(reference.slotsChecksum)
        bytes.appendInteger(CRC32C.checksum(bytes))
        return bytes
    }

    /// Opens the bucket a commit record names: the header must say what the reference says,
    /// and the slots must check out (read through once, which also rebuilds the filter).
    static func open(_ reference: DedupeManifest.Bucket, directory: String) throws(DedupeStateError) -> SealedBucket {
        let path = directory + "/" + fileName(reference.generation)
        let file = try OpenFile<DedupeStateError>.readOnly(path)
        let expectedSize = Int64(headerSize) + Int64(reference.capacity) * Int64(DigestSlot.size)
        let size = try file.size()
        guard size == expectedSize else {
            throw DedupeStateError(.damaged, "\(path) holds \(size) bytes where its commit record says \(expectedSize)")
        }
        guard try file.read(count: headerSize, at: 0) == header(reference) else {
            throw DedupeStateError(.damaged, "\(path) has a header other than its commit record says (torn, or from another state)")
        }
        let filter = DigestFilter(expectedKeys: Int(reference.count))
        var checksum: UInt32 = 0
        var found: UInt64 = 0
        let chunkSlots = 1 << 16
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSlots * DigestSlot.size, alignment: 16)
        defer { buffer.deallocate() }
        var slot: UInt64 = 0
        while slot < reference.capacity {
            let slots = Int(min(UInt64(chunkSlots), reference.capacity - slot))
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(slots * DigestSlot.size)])
            let read = try file.read(into: chunk, at: Int64(headerSize) + Int64(slot) * Int64(DigestSlot.size))
            guard read == chunk.count else { throw DedupeStateError(.damaged, "\(path) ends inside its slots") }
            checksum = CRC32C.update(checksum, UnsafeRawBufferPointer(chunk))
            for index in 0..<slots {
                let entry = DigestSlot.load(from: chunk.baseAddress! + index * DigestSlot.size)
                if !entry.isEmpty {
                    filter.insert(entry.digest)
                    found += 1
                }
            }
            slot += UInt64(slots)
        }
        guard checksum == reference.slotsChecksum, found == reference.count else {
            throw DedupeStateError(.damaged, "\(path): its slots do not check out (CRC-32C or key count)")
        }
        return SealedBucket(reference: reference, path: path, file: file, filter: filter)
    }

    /// The time `digest` was seen (ms), when this bucket holds it.
    func time(of digest: KeyDigest) throws(DedupeStateError) -> Int64? {
        guard filter.mayContain(digest) else { return nil }
        let capacity = Int(reference.capacity), mask = capacity - 1
        var index = Int(truncatingIfNeeded: digest.high) & mask
        var probed = 0
        let chunk = scratch
        while probed < capacity {
            // Up to the end of the table; the probe wraps to slot 0 after it.
            let slots = min(Self.probeSlots, capacity - index)
            let part = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<(slots * DigestSlot.size)])
            guard try file.read(into: part, at: Int64(Self.headerSize) + Int64(index) * Int64(DigestSlot.size)) == part.count else {
                throw DedupeStateError(.damaged, "\(path) ends inside its slots")
            }
            for offset in 0..<slots {
                let slot = DigestSlot.load(from: part.baseAddress! + offset * DigestSlot.size)
                if slot.isEmpty { return nil }
                if slot.matches(digest) { return reference.baseTime + Int64(slot.offset) }
            }
            probed += slots
            index = (index + slots) & mask
        }
        return nil
    }
}
