import BinaryIO
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
/// A spool file (`SpoolFile`) is a sequence of length-prefixed entries in a format of its own
/// (`SpoolEntry`), read only by this class: a table's Relation (or a topic name), written when
/// the spool first meets it or meets it changed (ALTER TABLE), then changes or records that
/// refer to it by number. Both directions go through a buffer of `bufferSize` bytes per open
/// transaction, so an entry costs no system call of its own and memory stays bounded whatever
/// the transaction's size.
final class StreamedTransactionSpool {
    struct SpoolError: Error, CustomStringConvertible {
        struct Code: Hashable, Sendable, CustomStringConvertible {
            let name: String
            var description: String { name }

            /// Creating, writing or reading a spool file failed.
            static let io = Code(name: "io")
            /// A spool file holds what this class did not write (or less of it).
            static let damaged = Code(name: "damaged")
            /// Another failure passed through the spool's callers (a stage's).
            static let other = Code(name: "other")
        }

        var code: Code
        /// What failed, naming the transaction and file.
        var message: String

        init(_ code: Code, _ message: String) {
            self.code = code
            self.message = message
        }

        init(message: String) { self.init(.other, message) }

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

    /// Bytes the open transactions' spool files hold on disk (what is still buffered not counted).
    var bytesOnDisk: Int64 { spools.values.reduce(0) { $0 + $1.written } }

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
                    .damaged, "the spool of streamed transaction \(xid) at \(spool.path) is damaged at byte \(reader.entryOffset): \(error.what)")
            }
            if let item { try handle(item) }
        }
        return spool.stagedEvents.reduce(0) { $0 + (spool.abortedSubtransactions.contains($1.key) ? 0 : $1.value) }
    }

    private func spoolFor(_ xid: UInt32) throws(SpoolError) -> SpoolFile {
        if let spool = spools[xid] { return spool }
        let path = directory + "/streamed-\(xid)-\(UUID().uuidString).spool"
        let descriptor: Int32
        do throws(FileError) {
            try POSIXFile<FileError>.createDirectory(directory, intermediate: true)
            descriptor = try POSIXFile<FileError>.open(path, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        } catch {
            throw SpoolError(.io, "cannot create a spool file at \(path): \(error)")
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

