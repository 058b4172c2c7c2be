import BinaryIO
import PGOutput

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One transaction's spool file and what has not reached it yet. A class, so appending to
/// `pending` through the dictionary of open spools never copies the buffer.
final class SpoolFile {
    let descriptor: Int32
    let path: String
    var pending: [UInt8] = []
    /// Bytes already in the file: where the next flush writes.
    var written: Int64 = 0
    /// The Relation each relation id was last spooled as, so it is written once, not per change.
    var relations: [UInt32: PGOutputMessage.Relation] = [:]
    var abortedSubtransactions: Set<UInt32> = []
    /// The number each topic name was spooled under.
    private var topics: [String: UInt32] = [:]
    private var lastTopic: (name: String, number: UInt32)?
    /// Changes that went through the stages, per (sub)transaction.
    var stagedEvents: [UInt32: Int] = [:]
    private var isOpen = true

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { discard() }

    /// Spools `relation` unless the file already holds it as it is now.
    func describe(_ relation: PGOutputMessage.Relation) {
        // Field by field, leaving out the stream xid, so that the usual case — the relation
        // already spooled — copies nothing.
        if let known = relations[relation.relationID], known.replicaIdentity == relation.replicaIdentity, known.name == relation.name,
            known.namespace == relation.namespace, known.columns == relation.columns
        {
            return
        }
        var relation = relation
        // The stream block a Relation arrived in means nothing once the transaction commits;
        // changes outside stream blocks carry relations without one too.
        relation.xid = nil
        relations[relation.relationID] = relation
        let entry = pending.beginEntry()
        SpoolEntry.encode(relation, into: &pending)
        pending.endEntry(entry)
    }

    /// The number of `topic`, spooling its name the first time.
    func topicNumber(_ topic: String) -> UInt32 {
        if let lastTopic, lastTopic.name == topic { return lastTopic.number }
        let number: UInt32
        if let known = topics[topic] {
            number = known
        } else {
            number = UInt32(topics.count)
            topics[topic] = number
            let entry = pending.beginEntry()
            SpoolEntry.encode(topic: topic, number: number, into: &pending)
            pending.endEntry(entry)
        }
        lastTopic = (topic, number)
        return number
    }

    func flush(transaction xid: UInt32, bufferSize: Int) throws(StreamedTransactionSpool.SpoolError) {
        // withUnsafeBytes rethrows untyped: carry the typed result out instead.
        let result = pending.withUnsafeBytes { raw in
            Result { () throws(FileError) in try POSIXFile<FileError>.write(descriptor, raw, at: written, path: path) }
        }
        if case .failure(let error) = result {
            throw .init(.io, "spooling streamed transaction \(xid) to \(path) failed: \(error.reason)")
        }
        written += Int64(pending.count)
        // An entry larger than the buffer grows it: let that memory go rather than keep it
        // for the rest of the transaction.
        if pending.capacity > 2 * bufferSize {
            pending = []
        } else {
            pending.removeAll(keepingCapacity: true)
        }
    }

    func discard() {
        guard isOpen else { return }
        isOpen = false
        close(descriptor)
        unlink(path)
        pending = []
    }
}

/// Reads a flushed spool file back entry by entry, `chunkSize` bytes per system call.
struct SpoolReader {
    let spool: SpoolFile
    let transaction: UInt32
    private var buffer: [UInt8]
    /// The unread bytes are `buffer[start..<end]`; `buffer[end...]` is free.
    private var start = 0
    private var end = 0
    /// The file offset of `buffer[end]`.
    private var fileOffset: Int64 = 0
    /// The file offset of the entry last returned, for error messages.
    private(set) var entryOffset: Int64 = 0

    init(spool: SpoolFile, transaction: UInt32, chunkSize: Int) {
        self.spool = spool
        self.transaction = transaction
        self.buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    /// The next entry's bytes (without its length), or nil after the last.
    mutating func nextEntry() throws(StreamedTransactionSpool.SpoolError) -> [UInt8]? {
        let consumed = fileOffset - Int64(end - start)
        guard consumed < spool.written else { return nil }
        entryOffset = consumed
        try fill(4)
        let length = buffer.withUnsafeBytes { Int(UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self))) }
        guard Int64(length) <= spool.written - consumed - 4 else {
            throw .init(
                .damaged,
                "the spool of streamed transaction \(transaction) at \(spool.path) is damaged at byte \(consumed): "
                    + "an entry of \(length) bytes runs past its end")
        }
        start += 4
        try fill(length)
        defer { start += length }
        return Array(buffer[start..<start + length])
    }

    /// Makes `count` bytes available from `start` on.
    private mutating func fill(_ count: Int) throws(StreamedTransactionSpool.SpoolError) {
        guard end - start < count else { return }
        let unread = end - start
        if start > 0 {
            buffer.withUnsafeMutableBytes { raw in
                if unread > 0 { raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: unread) }
            }
            start = 0
            end = unread
        }
        if count > buffer.count { buffer.append(contentsOf: repeatElement(0, count: count - buffer.count)) }
        while end < count {
            let wanted = min(buffer.count - end, Int(spool.written - fileOffset))
            let (descriptor, path, offset, end) = (spool.descriptor, spool.path, fileOffset, self.end)
            let result = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(FileError) in
                    try POSIXFile<FileError>.read(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw[end..<end + wanted]), at: offset, path: path)
                }
            }
            let n: Int
            switch result {
            case .success(let count): n = count
            case .failure(let error):
                throw .init(.io, "reading the spool of streamed transaction \(transaction) at \(spool.path) failed: \(error.reason)")
            }
            guard n > 0 else {
                throw .init(.damaged, "the spool of streamed transaction \(transaction) at \(spool.path) is cut short: \(fileOffset) of \(spool.written) bytes")
            }
            self.end += n
            fileOffset += Int64(n)
        }
    }
}

