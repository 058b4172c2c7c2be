import Foundation
import PGOutput
import PostgresSource
import SegmentLog

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps streamed in-progress transactions (pgoutput `streaming 'on'`) on disk until their
/// Stream Commit, one spool file per transaction, so memory does not grow with a
/// transaction's size and several streamed transactions can interleave.
///
/// A spool holds either the transaction's changes, or — when every stage can run before the
/// commit (`Stage.readsCommitPosition`, no state) — what the stages made of them while the
/// transaction streamed: records lacking only what names the commit (`PendingRecord`), and
/// failures that stop the pipeline if the transaction commits. Either way the transaction
/// reaches the log only when it commits, as one log transaction in commit order — the order
/// every other transaction reaches the log in — so read-committed readers see the source's
/// commit order. A Stream Abort of the whole transaction deletes its spool; the abort of a
/// subtransaction (ROLLBACK TO SAVEPOINT) marks what its changes left to be skipped when the
/// spool is read back.
///
/// A spool file is a sequence of length-prefixed entries in a format of its own, read only by
/// this class: a table's Relation (or a topic name), written when the spool first meets it or
/// meets it changed (ALTER TABLE), then changes or records that refer to it by number. Both
/// directions go through a buffer of `bufferSize` bytes per open transaction, so an entry
/// costs no system call of its own and memory stays bounded whatever the transaction's size.
final class StreamedTransactionSpool {
    struct SpoolError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    let directory: String
    /// How many bytes of a transaction's changes collect in memory before they are written
    /// out, and how many are read back at a time.
    let bufferSize: Int
    private var spools: [UInt32: SpoolFile] = [:]

    init(directory: String, bufferSize: Int = 1 << 20) {
        self.directory = directory
        self.bufferSize = max(bufferSize, 64)
    }

    deinit { reset() }

    /// Forgets every spooled transaction (the source will send them again).
    func reset() {
        for spool in spools.values { spool.discard() }
        spools.removeAll()
    }

    /// Transactions being spooled.
    var openTransactions: Int { spools.count }

    /// Adds a change of top-level transaction `xid` (the change's own xid may be a subtransaction's).
    func append(_ change: SourceChange, transaction xid: UInt32) throws(SpoolError) {
        let spool = try spoolFor(xid)
        spool.describe(change.relation)
        for relation in change.truncatedRelations { spool.describe(relation) }
        let entry = spool.pending.beginEntry()
        SpoolEntry.encode(change, into: &spool.pending)
        spool.pending.endEntry(entry)
        if spool.pending.count >= bufferSize { try spool.flush(transaction: xid, bufferSize: bufferSize) }
    }

    /// Adds a record that a change of subtransaction `subtransaction` (the top-level xid for
    /// its own changes) of transaction `xid` became; `deadLetter` says why, for a dead letter.
    func append(_ record: PendingRecord, deadLetter: DeadLetterNote?, subtransaction: UInt32, transaction xid: UInt32) throws(SpoolError) {
        let spool = try spoolFor(xid)
        let topic = spool.topicNumber(record.topicPartition.topic)
        let entry = spool.pending.beginEntry()
        SpoolEntry.encode(record, topic: topic, deadLetter: deadLetter, subtransaction: subtransaction, into: &spool.pending)
        spool.pending.endEntry(entry)
        if spool.pending.count >= bufferSize { try spool.flush(transaction: xid, bufferSize: bufferSize) }
    }

    /// Adds a stage failure that stops the pipeline if the transaction commits with it.
    func append(_ failure: StagedFailure, subtransaction: UInt32, transaction xid: UInt32) throws(SpoolError) {
        let spool = try spoolFor(xid)
        let entry = spool.pending.beginEntry()
        SpoolEntry.encode(failure, subtransaction: subtransaction, into: &spool.pending)
        spool.pending.endEntry(entry)
        if spool.pending.count >= bufferSize { try spool.flush(transaction: xid, bufferSize: bufferSize) }
    }

    /// Counts a change that went through the stages while its transaction streamed.
    func countStagedEvent(subtransaction: UInt32, transaction xid: UInt32) throws(SpoolError) {
        try spoolFor(xid).stagedEvents[subtransaction, default: 0] += 1
    }

    /// A Stream Abort: of the whole transaction (`subtransaction == xid`) or of one subtransaction.
    func abort(_ xid: UInt32, subtransaction: UInt32) {
        guard let spool = spools[xid] else { return }
        if subtransaction == xid {
            spool.discard()
            spools[xid] = nil
        } else {
            spool.abortedSubtransactions.insert(subtransaction)
        }
    }

    /// Reads the committed transaction's spool back, in order, without what aborted
    /// subtransactions left, and deletes it. `handle` gets each item; nothing is held in memory
    /// beyond one item and the read buffer. Returns how many changes went through the stages
    /// while the transaction streamed (not counting aborted subtransactions').
    @discardableResult
    func commit(_ xid: UInt32, _ handle: (SpooledItem) throws -> Void) throws -> Int {
        guard let spool = spools.removeValue(forKey: xid) else { return 0 }
        defer { spool.discard() }
        try spool.flush(transaction: xid, bufferSize: bufferSize)
        var reader = SpoolReader(spool: spool, transaction: xid, chunkSize: bufferSize)
        var context = SpoolEntry.ReadContext(skipping: spool.abortedSubtransactions)
        while let entry = try reader.nextEntry() {
            let item: SpooledItem?
            do {
                item = try SpoolEntry.decode(entry, context: &context)
            } catch {
                throw SpoolError(
                    message: "the spool of streamed transaction \(xid) at \(spool.path) is damaged at byte \(reader.entryOffset): \(error.what)")
            }
            if let item { try handle(item) }
        }
        return spool.stagedEvents.reduce(0) { $0 + (spool.abortedSubtransactions.contains($1.key) ? 0 : $1.value) }
    }

    private func spoolFor(_ xid: UInt32) throws(SpoolError) -> SpoolFile {
        if let spool = spools[xid] { return spool }
        let path = directory + "/streamed-\(xid)-\(UUID().uuidString).spool"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SpoolError(message: "cannot create a spool file at \(path): \(error)")
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SpoolError(message: "cannot create a spool file at \(path): \(String(cString: strerror(errno)))")
        }
        let spool = SpoolFile(descriptor: descriptor, path: path)
        spools[xid] = spool
        return spool
    }
}

/// What a streamed transaction's spool gives back at its commit.
enum SpooledItem {
    case change(SourceChange)
    /// A record a change became while the transaction streamed.
    case record(PendingRecord, deadLetter: DeadLetterNote?)
    case failure(StagedFailure)
}

/// Why a staged record is a dead letter (for the warning written when it reaches the log).
struct DeadLetterNote: Equatable {
    var stage: String
    var reason: String
}

/// A stage failure met while a transaction streamed that stops the pipeline — if the
/// transaction commits. What the message needs but the commit (its LSN).
struct StagedFailure: Equatable {
    var stage: String
    var reason: String
    var table: String
    var sequence: Int
}

/// One transaction's spool file and what has not reached it yet. A class, so appending to
/// `pending` through the dictionary of open spools never copies the buffer.
private final class SpoolFile {
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
        var failure: Int32 = 0
        let count = pending.count
        let done = pending.withUnsafeBytes { raw -> Int in
            var done = 0
            while done < count {
                let n = pwrite(descriptor, raw.baseAddress! + done, count - done, off_t(written) + off_t(done))
                if n > 0 {
                    done += n
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    failure = n < 0 ? errno : ENOSPC
                    break
                }
            }
            return done
        }
        written += Int64(done)
        guard failure == 0 else {
            throw .init(message: "spooling streamed transaction \(xid) to \(path) failed: \(String(cString: strerror(failure)))")
        }
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
private struct SpoolReader {
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
        let length = buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self))) }
        guard Int64(length) <= spool.written - consumed - 4 else {
            throw .init(
                message: "the spool of streamed transaction \(transaction) at \(spool.path) is damaged at byte \(consumed): "
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
            let descriptor = spool.descriptor
            let offset = fileOffset
            let end = self.end
            let n = buffer.withUnsafeMutableBytes { raw in pread(descriptor, raw.baseAddress! + end, wanted, off_t(offset)) }
            if n > 0 {
                self.end += n
                fileOffset += Int64(n)
            } else if n < 0, errno == EINTR {
                continue
            } else if n < 0 {
                throw .init(message: "reading the spool of streamed transaction \(transaction) at \(spool.path) failed: \(String(cString: strerror(errno)))")
            } else {
                throw .init(message: "the spool of streamed transaction \(transaction) at \(spool.path) is cut short: \(fileOffset) of \(spool.written) bytes")
            }
        }
    }
}

/// The encoding of spool entries: fixed-width little-endian integers, relations as pgoutput
/// Relation messages (rare), changes in a compact form of their own (one per row).
private enum SpoolEntry {
    static let relationTag: UInt8 = 0x52  // R
    static let changeTag: UInt8 = 0x43  // C
    static let topicTag: UInt8 = 0x54  // T
    static let recordTag: UInt8 = 0x50  // P
    static let failureTag: UInt8 = 0x46  // F
    static let deadLetterFlag: UInt8 = 1
    static let envelopeFlag: UInt8 = 2
    /// The length of an absent key, value or header value.
    static let absent = UInt32.max
    static let noTupleMarker: UInt8 = 0
    static let newTupleMarker: UInt8 = 0x4E  // N
    static let keyMarker: UInt8 = 0x4B  // K
    static let oldRowMarker: UInt8 = 0x4F  // O

    struct Malformed: Error {
        var what: String
    }

    static func encode(_ relation: PGOutputMessage.Relation, into buffer: inout [UInt8]) {
        buffer.append(relationTag)
        PGOutputMessage.relation(relation).encode(into: &buffer)
    }

    static func encode(_ change: SourceChange, into buffer: inout [UInt8]) {
        buffer.append(changeTag)
        buffer.appendInteger(change.xid)
        buffer.appendInteger(Int64(change.sequence))
        buffer.appendInteger(change.lsn.rawValue)
        buffer.append(operationCode(change.operation))
        buffer.appendInteger(change.relation.relationID)
        if let tuple = change.newTuple {
            buffer.append(newTupleMarker)
            encode(tuple, into: &buffer)
        } else {
            buffer.append(noTupleMarker)
        }
        switch change.oldTuple {
        case nil: buffer.append(noTupleMarker)
        case .key(let tuple)?:
            buffer.append(keyMarker)
            encode(tuple, into: &buffer)
        case .oldRow(let tuple)?:
            buffer.append(oldRowMarker)
            encode(tuple, into: &buffer)
        }
        buffer.appendInteger(UInt32(change.truncatedRelations.count))
        for relation in change.truncatedRelations { buffer.appendInteger(relation.relationID) }
        buffer.append(change.truncateOptions.rawValue)
    }

    static func encode(topic: String, number: UInt32, into buffer: inout [UInt8]) {
        buffer.append(topicTag)
        buffer.appendInteger(number)
        buffer.append(contentsOf: topic.utf8)
    }

    static func encode(_ record: PendingRecord, topic: UInt32, deadLetter: DeadLetterNote?, subtransaction: UInt32, into buffer: inout [UInt8]) {
        buffer.append(recordTag)
        buffer.appendInteger(subtransaction)
        buffer.append((deadLetter != nil ? deadLetterFlag : 0) | (record.envelope != nil ? envelopeFlag : 0))
        buffer.appendInteger(topic)
        buffer.appendInteger(record.topicPartition.partition)
        if let deadLetter {
            encode(text: deadLetter.stage, into: &buffer)
            encode(text: deadLetter.reason, into: &buffer)
        }
        guard let envelope = record.envelope else {
            // The record body so far, as it is: the rest of the entry.
            buffer.append(contentsOf: record.bodyPrefix)
            return
        }
        encode(optional: envelope.key, into: &buffer)
        encode(optional: envelope.valuePrefix, into: &buffer)
        buffer.appendInteger(UInt32(envelope.headers.count))
        for header in envelope.headers {
            encode(text: header.key, into: &buffer)
            encode(optional: header.value, into: &buffer)
        }
        buffer.append(operationCode(envelope.tail.operation))
        encode(text: envelope.tail.table.schema, into: &buffer)
        encode(text: envelope.tail.table.name, into: &buffer)
    }

    static func encode(_ failure: StagedFailure, subtransaction: UInt32, into buffer: inout [UInt8]) {
        buffer.append(failureTag)
        buffer.appendInteger(subtransaction)
        buffer.appendInteger(Int64(failure.sequence))
        encode(text: failure.stage, into: &buffer)
        encode(text: failure.reason, into: &buffer)
        encode(text: failure.table, into: &buffer)
    }

    private static func encode(optional bytes: [UInt8]?, into buffer: inout [UInt8]) {
        guard let bytes else { return buffer.appendInteger(absent) }
        buffer.appendInteger(UInt32(bytes.count))
        buffer.append(contentsOf: bytes)
    }

    private static func encode(text: String, into buffer: inout [UInt8]) {
        buffer.appendInteger(UInt32(text.utf8.count))
        buffer.append(contentsOf: text.utf8)
    }

    private static func encode(_ tuple: TupleData, into buffer: inout [UInt8]) {
        buffer.appendInteger(UInt32(tuple.columns.count))
        for column in tuple.columns {
            switch column {
            case .null, .unchangedToast:
                buffer.append(column.kind.rawValue)
            case .text(let bytes), .binary(let bytes):
                buffer.append(column.kind.rawValue)
                buffer.appendInteger(UInt32(bytes.count))
                bytes.withUnsafeBufferPointer { buffer.append(contentsOf: $0) }
            }
        }
    }

    /// What the entries read so far declared, and the subtransactions to skip.
    struct ReadContext {
        var relations: [UInt32: PGOutputMessage.Relation] = [:]
        var topics: [UInt32: String] = [:]
        /// Partitions per topic and partition number, so each is validated once.
        var partitions: [UInt32: [Int32: TopicPartition]] = [:]
        let skipping: Set<UInt32>

        init(skipping: Set<UInt32>) { self.skipping = skipping }
    }

    /// The item in `entry`, or nil for a declaration (Relation, topic) or what a
    /// subtransaction in `context.skipping` left.
    static func decode(_ entry: [UInt8], context: inout ReadContext) throws(Malformed) -> SpooledItem? {
        var reader = EntryReader(bytes: entry)
        let aborted = context.skipping
        switch try reader.byte() {
        case relationTag:
            let relation: PGOutputMessage.Relation
            do {
                guard case .relation(let decoded) = try PGOutputMessage.decode(from: entry[1...]) else {
                    throw Malformed(what: "a relation entry holds another message")
                }
                relation = decoded
            } catch let error as Malformed {
                throw error
            } catch {
                throw Malformed(what: "a relation entry does not decode: \(error)")
            }
            context.relations[relation.relationID] = relation
            return nil
        case topicTag:
            let number: UInt32 = try reader.integer()
            context.topics[number] = String(decoding: try reader.bytes(entry.count - reader.offset), as: UTF8.self)
            return nil
        case recordTag:
            let subtransaction: UInt32 = try reader.integer()
            if aborted.contains(subtransaction) { return nil }
            let flags = try reader.byte()
            let topicNumber: UInt32 = try reader.integer()
            let partition: Int32 = try reader.integer()
            let topicPartition: TopicPartition
            if let known = context.partitions[topicNumber]?[partition] {
                topicPartition = known
            } else {
                guard let topic = context.topics[topicNumber] else { throw Malformed(what: "a record names topic \(topicNumber), which no entry before it declares") }
                do { topicPartition = try TopicPartition(topic: topic, partition: partition) } catch {
                    throw Malformed(what: "a record's topic \"\(topic)\" / partition \(partition) is invalid: \(error)")
                }
                context.partitions[topicNumber, default: [:]][partition] = topicPartition
            }
            let deadLetter = flags & deadLetterFlag != 0 ? DeadLetterNote(stage: try text(&reader), reason: try text(&reader)) : nil
            guard flags & envelopeFlag != 0 else {
                let body = Array(try reader.bytes(entry.count - reader.offset))
                return .record(PendingRecord(topicPartition: topicPartition, bodyPrefix: body), deadLetter: deadLetter)
            }
            let key = try optional(&reader)
            let valuePrefix = try optional(&reader) ?? []
            let headerCount = Int(try reader.integer() as UInt32)
            try reader.requireRoom(headerCount, bytesEach: 8)
            var headers: [RecordHeader] = []
            headers.reserveCapacity(headerCount)
            for _ in 0..<headerCount {
                let name = try text(&reader)
                headers.append(RecordHeader(key: name, value: try optional(&reader)))
            }
            let operation = try operation(try reader.byte())
            let tail = DebeziumEnvelope.Tail(table: TableName(schema: try text(&reader), name: try text(&reader)), operation: operation)
            guard reader.isAtEnd else { throw Malformed(what: "a record entry has bytes left over") }
            return .record(
                PendingRecord(
                    topicPartition: topicPartition, bodyPrefix: [],
                    envelope: PendingEnvelope(key: key, valuePrefix: valuePrefix, headers: headers, tail: tail)),
                deadLetter: deadLetter)
        case failureTag:
            let subtransaction: UInt32 = try reader.integer()
            if aborted.contains(subtransaction) { return nil }
            let sequence = Int(try reader.integer() as Int64)
            let failure = StagedFailure(stage: try text(&reader), reason: try text(&reader), table: try text(&reader), sequence: sequence)
            guard reader.isAtEnd else { throw Malformed(what: "a failure entry has bytes left over") }
            return .failure(failure)
        case changeTag:
            let xid: UInt32 = try reader.integer()
            if aborted.contains(xid) { return nil }
            let sequence = Int(try reader.integer() as Int64)
            let lsn = LSN(try reader.integer() as UInt64)
            let operation = try operation(try reader.byte())
            let relation = try relationFor(try reader.integer(), in: context.relations)
            let newTuple: TupleData?
            switch try reader.byte() {
            case noTupleMarker: newTuple = nil
            case newTupleMarker: newTuple = try tuple(&reader)
            case let marker: throw Malformed(what: "new tuple marker \(marker)")
            }
            let oldTuple: PGOutputMessage.OldTuple?
            switch try reader.byte() {
            case noTupleMarker: oldTuple = nil
            case keyMarker: oldTuple = .key(try tuple(&reader))
            case oldRowMarker: oldTuple = .oldRow(try tuple(&reader))
            case let marker: throw Malformed(what: "old tuple marker \(marker)")
            }
            let truncatedCount = Int(try reader.integer() as UInt32)
            try reader.requireRoom(truncatedCount, bytesEach: 4)
            var truncated: [PGOutputMessage.Relation] = []
            truncated.reserveCapacity(truncatedCount)
            for _ in 0..<truncatedCount { truncated.append(try relationFor(try reader.integer(), in: context.relations)) }
            let options = PGOutputMessage.Truncate.Options(rawValue: try reader.byte())
            guard reader.isAtEnd else { throw Malformed(what: "a change entry has bytes left over") }
            return .change(SourceChange(
                operation: operation, xid: xid, lsn: lsn, sequence: sequence, relation: relation, newTuple: newTuple, oldTuple: oldTuple,
                truncatedRelations: truncated, truncateOptions: options))
        case let tag:
            throw Malformed(what: "unknown entry tag \(tag)")
        }
    }

    private static func optional(_ reader: inout EntryReader) throws(Malformed) -> [UInt8]? {
        let length: UInt32 = try reader.integer()
        if length == absent { return nil }
        return Array(try reader.bytes(Int(length)))
    }

    private static func text(_ reader: inout EntryReader) throws(Malformed) -> String {
        String(decoding: try reader.bytes(Int(try reader.integer() as UInt32)), as: UTF8.self)
    }

    private static func tuple(_ reader: inout EntryReader) throws(Malformed) -> TupleData {
        let count = Int(try reader.integer() as UInt32)
        try reader.requireRoom(count, bytesEach: 1)
        var columns: [TupleColumn] = []
        columns.reserveCapacity(count)
        for _ in 0..<count {
            switch try reader.byte() {
            case TupleColumn.Kind.null.rawValue: columns.append(.null)
            case TupleColumn.Kind.unchangedToast.rawValue: columns.append(.unchangedToast)
            case TupleColumn.Kind.text.rawValue: columns.append(.text(try reader.bytes(Int(try reader.integer() as UInt32))))
            case TupleColumn.Kind.binary.rawValue: columns.append(.binary(try reader.bytes(Int(try reader.integer() as UInt32))))
            case let kind: throw Malformed(what: "column kind \(kind)")
            }
        }
        return TupleData(columns)
    }

    private static func relationFor(_ id: UInt32, in relations: [UInt32: PGOutputMessage.Relation]) throws(Malformed) -> PGOutputMessage.Relation {
        guard let relation = relations[id] else { throw Malformed(what: "a change refers to relation \(id), which no entry before it describes") }
        return relation
    }

    private static func operationCode(_ operation: SourceChange.Operation) -> UInt8 {
        switch operation {
        case .insert: 0x49  // I
        case .update: 0x55  // U
        case .delete: 0x44  // D
        case .truncate: 0x54  // T
        }
    }

    private static func operation(_ code: UInt8) throws(Malformed) -> SourceChange.Operation {
        switch code {
        case 0x49: .insert
        case 0x55: .update
        case 0x44: .delete
        case 0x54: .truncate
        default: throw Malformed(what: "operation code \(code)")
        }
    }
}

/// Bounds-checked reads from one entry; values come out as slices of it.
private struct EntryReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() throws(SpoolEntry.Malformed) -> UInt8 {
        guard offset < bytes.count else { throw .init(what: "an entry ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func integer<Value: FixedWidthInteger>() throws(SpoolEntry.Malformed) -> Value {
        let size = MemoryLayout<Value>.size
        guard bytes.count - offset >= size else { throw .init(what: "an entry ends early") }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Value.self) }
        offset += size
        return Value(littleEndian: value)
    }

    mutating func bytes(_ count: Int) throws(SpoolEntry.Malformed) -> ArraySlice<UInt8> {
        guard bytes.count - offset >= count else { throw .init(what: "a value of \(count) bytes runs past the end of its entry") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// Rejects a count the rest of the entry cannot hold before anything is allocated for it.
    func requireRoom(_ count: Int, bytesEach: Int) throws(SpoolEntry.Malformed) {
        guard count <= (bytes.count - offset) / bytesEach else { throw .init(what: "a count of \(count) exceeds its entry") }
    }
}

extension [UInt8] {
    fileprivate mutating func appendInteger<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// Starts a length-prefixed entry: returns where its length goes, for `endEntry`.
    fileprivate mutating func beginEntry() -> Int {
        defer { appendInteger(UInt32(0)) }
        return count
    }

    fileprivate mutating func endEntry(_ lengthAt: Int) {
        let length = UInt32(count - lengthAt - 4).littleEndian
        Swift.withUnsafeBytes(of: length) { raw in
            for index in 0..<4 { self[lengthAt + index] = raw[index] }
        }
    }
}
