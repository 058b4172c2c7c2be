import BinaryIO
import SegmentLog

#if canImport(Glibc)
import Glibc
#endif

/// The newest bucket's keys, on disk, in the order they were added: what rebuilds its
/// in-memory table on start. Append-only; a commit record names how many entries were
/// fsynced before it and their CRC-32C, so recovery cuts off whatever came after (keys of a
/// transaction that never committed) and a damaged entry is an error, never a wrong state.
///
/// Appends are buffered (64 KiB) and written through, so a large transaction's keys never pile
/// up in memory: the commit then fsyncs the file instead of carrying the keys.
///
/// `journal-<generation>.ddj`: a 32-byte header (magic `ODSJ`, version, generation, base
/// time, CRC-32C of the header before it; big-endian), then 16-byte `DigestSlot`s.
final class DedupeJournal {
    let generation: UInt64
    /// Entry times are offsets from this (the newest bucket's table has the same base).
    let baseTime: Int64
    let path: String
    private let file: OpenFile<DedupeStateError>
    /// Entries written or buffered.
    private(set) var entries = 0
    private var written = 0
    private var buffer: [UInt8] = []
    /// CRC-32C of the written entries.
    private var checksum: UInt32 = 0
    private(set) var syncedEntries = 0
    private(set) var syncedChecksum: UInt32 = 0
    /// The header and the directory entry are durable (false for a new file until its first sync).
    private(set) var headerDurable: Bool

    static let headerSize = 32
    static let magic: [UInt8] = Array("ODSJ".utf8)
    static let version: UInt8 = 1
    static let bufferBytes = 64 << 10

    static func fileName(_ generation: UInt64) -> String { "journal-\(generation).ddj" }

    var reference: DedupeManifest.Journal {
        DedupeManifest.Journal(generation: generation, baseTime: baseTime, syncedEntries: UInt64(syncedEntries), syncedChecksum: syncedChecksum)
    }

    var fileBytes: Int64 { Int64(Self.headerSize) + Int64(entries) * Int64(DigestSlot.size) }

    private init(generation: UInt64, baseTime: Int64, path: String, file: OpenFile<DedupeStateError>, headerDurable: Bool) {
        self.generation = generation
        self.baseTime = baseTime
        self.path = path
        self.file = file
        self.headerDurable = headerDurable
        buffer.reserveCapacity(Self.bufferBytes)
    }

    static func header(generation: UInt64, baseTime: Int64) -> [UInt8] {
        var bytes = magic
        bytes.append(version)
        bytes.append(contentsOf: [0, 0, 0])
        bytes.appendInteger(generation)
        bytes.appendInteger(baseTime)
        bytes.appendInteger(UInt32(0))
        bytes.appendInteger(CRC32C.checksum(bytes))
        return bytes
    }

    /// A new, empty journal (made durable by the first `sync`).
    static func create(generation: UInt64, baseTime: Int64, directory: String) throws(DedupeStateError) -> DedupeJournal {
        let path = directory + "/" + fileName(generation)
        let file = try OpenFile<DedupeStateError>(path: path, flags: O_RDWR | O_CREAT | O_TRUNC)
        try file.write(header(generation: generation, baseTime: baseTime), at: 0)
        return DedupeJournal(generation: generation, baseTime: baseTime, path: path, file: file, headerDurable: false)
    }

    /// Opens the journal `reference` names and adds its first `entries` entries to `table`
    /// (at least the synced ones; more when this process wrote and committed them itself),
    /// then cuts the file after them.
    static func open(
        _ reference: DedupeManifest.Journal, entries: Int, directory: String, into table: DigestTable
    ) throws(DedupeStateError) -> DedupeJournal {
        let path = directory + "/" + fileName(reference.generation)
        let file = try OpenFile<DedupeStateError>(path: path, flags: O_RDWR)
        guard try file.read(count: headerSize, at: 0) == header(generation: reference.generation, baseTime: reference.baseTime) else {
            throw DedupeStateError(.damaged, "\(path) has a header other than its commit record says (torn, or from another state)")
        }
        let journal = DedupeJournal(generation: reference.generation, baseTime: reference.baseTime, path: path, file: file, headerDurable: true)
        let synced = Int(reference.syncedEntries)
        precondition(entries >= synced, "a journal is opened at least as far as it was synced")
        let chunkEntries = 1 << 16
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkEntries * DigestSlot.size, alignment: 16)
        defer { chunk.deallocate() }
        var done = 0
        while done < entries {
            // Stop at the synced count once, to compare the checksum there.
            let end = done < synced ? min(synced, done + chunkEntries) : min(entries, done + chunkEntries)
            let part = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<((end - done) * DigestSlot.size)])
            guard try file.read(into: part, at: Int64(headerSize) + Int64(done) * Int64(DigestSlot.size)) == part.count else {
                throw DedupeStateError(.damaged, "\(path) ends after \(done) of the \(entries) keys its commit record names (torn or cut)")
            }
            journal.checksum = CRC32C.update(journal.checksum, UnsafeRawBufferPointer(part))
            for index in 0..<(end - done) {
                let slot = DigestSlot.load(from: part.baseAddress! + index * DigestSlot.size)
                guard !slot.isEmpty else { throw DedupeStateError(.damaged, "\(path): an empty entry at \(done + index)") }
                if !table.hasRoom { table.grow() }
                table.set(slot.digest, offset: slot.offset)
            }
            done = end
            if done == synced, journal.checksum != reference.syncedChecksum {
                throw DedupeStateError(.damaged, "\(path): the first \(synced) keys do not check out (CRC-32C)")
            }
        }
        if synced == 0, reference.syncedChecksum != 0 {
            throw DedupeStateError(.damaged, "\(path): an empty journal with a checksum")
        }
        journal.entries = entries
        journal.written = entries
        journal.syncedEntries = synced
        journal.syncedChecksum = reference.syncedChecksum
        try file.truncate(to: Int64(headerSize) + Int64(entries) * Int64(DigestSlot.size))
        return journal
    }

    func append(_ slot: DigestSlot) throws(DedupeStateError) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: DigestSlot.size))
        buffer.withUnsafeMutableBytes { raw in slot.store(to: raw.baseAddress! + start) }
        entries += 1
        if buffer.count >= Self.bufferBytes { try flush() }
    }

    /// Writes what is buffered (no fsync).
    func flush() throws(DedupeStateError) {
        guard !buffer.isEmpty else { return }
        try file.write(buffer, at: Int64(Self.headerSize) + Int64(written) * Int64(DigestSlot.size))
        checksum = buffer.withUnsafeBytes { CRC32C.update(checksum, $0) }
        written = entries
        buffer.removeAll(keepingCapacity: true)
    }

    /// Everything appended is durable when it returns (the directory entry is the caller's).
    func sync() throws(DedupeStateError) {
        try flush()
        try file.sync()
        headerDurable = true
        syncedEntries = entries
        syncedChecksum = checksum
    }
}
