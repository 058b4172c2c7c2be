import Foundation
import PGOutput
import PostgresSource
import SegmentLog

/// Keeps the changes of streamed in-progress transactions (pgoutput `streaming 'on'`) on disk
/// until their Stream Commit, one spool file per transaction, so memory does not grow with a
/// transaction's size and several streamed transactions can interleave.
///
/// A streamed transaction reaches the log only when it commits, as one log transaction in
/// commit order — the order every other transaction reaches the log in — so read-committed
/// readers see the source's commit order. A Stream Abort of the whole transaction deletes its
/// spool; the abort of a subtransaction (ROLLBACK TO SAVEPOINT) marks that subtransaction's
/// changes to be skipped when the spool is read back.
final class StreamedTransactionSpool {
    struct SpoolError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private struct Spool {
        var file: FileHandle
        var path: String
        var abortedSubtransactions: Set<UInt32> = []
        var count = 0
    }

    let directory: String
    private var spools: [UInt32: Spool] = [:]

    init(directory: String) {
        self.directory = directory
    }

    deinit { reset() }

    /// Forgets every spooled transaction (the source will send them again).
    func reset() {
        for spool in spools.values {
            try? spool.file.close()
            try? FileManager.default.removeItem(atPath: spool.path)
        }
        spools.removeAll()
    }

    /// Transactions being spooled.
    var openTransactions: Int { spools.count }

    /// Adds a change of top-level transaction `xid` (the change's own xid may be a subtransaction's).
    func append(_ change: SourceChange, transaction xid: UInt32) throws(SpoolError) {
        var spool = try spoolFor(xid)
        var encoded = CheckpointWriter()
        encoded.write(change.xid)
        encoded.write(UInt32(change.sequence))
        encoded.write(change.lsn.rawValue)
        let relations = change.operation == .truncate ? change.truncatedRelations : [change.relation]
        encoded.write(UInt32(relations.count))
        for var relation in relations {
            relation.xid = nil
            encoded.write(PGOutputMessage.relation(relation).encode())
        }
        let record = ChangelogCodec.record(for: change, origin: EventOrigin(
            commitLSN: .zero, xid: xid, commitTime: PostgresTimestamp(rawValue: 0), table: change.table, operation: change.operation,
            sequence: change.sequence))
        encoded.write(record.value ?? [])
        var framed = CheckpointWriter()
        framed.write(encoded.bytes)
        do { try spool.file.write(contentsOf: framed.bytes) } catch {
            throw SpoolError(message: "spooling streamed transaction \(xid) to \(spool.path) failed: \(error)")
        }
        spool.count += 1
        spools[xid] = spool
    }

    /// A Stream Abort: of the whole transaction (`subtransaction == xid`) or of one subtransaction.
    func abort(_ xid: UInt32, subtransaction: UInt32) {
        guard var spool = spools[xid] else { return }
        if subtransaction == xid {
            try? spool.file.close()
            try? FileManager.default.removeItem(atPath: spool.path)
            spools[xid] = nil
        } else {
            spool.abortedSubtransactions.insert(subtransaction)
            spools[xid] = spool
        }
    }

    /// Reads the committed transaction's surviving changes back, in order, and deletes its
    /// spool. `body` gets each change; nothing is held in memory beyond one.
    func commit(_ xid: UInt32, _ handle: (SourceChange) throws -> Void) throws {
        guard let spool = spools.removeValue(forKey: xid) else { return }
        defer {
            try? spool.file.close()
            try? FileManager.default.removeItem(atPath: spool.path)
        }
        try spool.file.synchronize()
        guard let reader = FileHandle(forReadingAtPath: spool.path) else {
            throw SpoolError(message: "cannot read the spool of streamed transaction \(xid) at \(spool.path)")
        }
        defer { try? reader.close() }
        var assembler = TransactionAssembler()
        _ = try assembler.apply(.begin(.init(finalLSN: .zero, commitTimestamp: PostgresTimestamp(rawValue: 0), xid: xid)), at: .zero)
        for _ in 0..<spool.count {
            guard let lengthBytes = try reader.read(upToCount: 4), lengthBytes.count == 4 else {
                throw SpoolError(message: "the spool of streamed transaction \(xid) is cut short")
            }
            let length = lengthBytes.reduce(0) { $0 << 8 | Int($1) }
            guard let bytes = try reader.read(upToCount: length), bytes.count == length else {
                throw SpoolError(message: "the spool of streamed transaction \(xid) is cut short")
            }
            var entry = CheckpointReader(Array(bytes))
            let changeXID = try entry.readUInt32()
            let sequence = Int(try entry.readUInt32())
            let lsn = LSN(try entry.readUInt64())
            let relationCount = try entry.readUInt32()
            for _ in 0..<relationCount {
                _ = try assembler.apply(try PGOutputMessage.decode(from: ArraySlice(try entry.readBytes())), at: .zero)
            }
            let message = try PGOutputMessage.decode(from: ArraySlice(try entry.readBytes()))
            guard !spool.abortedSubtransactions.contains(changeXID) else { continue }
            guard case .change(var change)? = try assembler.apply(message, at: lsn) else {
                throw SpoolError(message: "the spool of streamed transaction \(xid) holds something that is not a change")
            }
            change.xid = changeXID
            change.sequence = sequence
            try handle(change)
        }
    }

    private func spoolFor(_ xid: UInt32) throws(SpoolError) -> Spool {
        if let spool = spools[xid] { return spool }
        let path = directory + "/streamed-\(xid)-\(UUID().uuidString).spool"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
                throw SpoolError(message: "cannot create a spool file at \(path)")
            }
            return Spool(file: file, path: path)
        } catch let error as SpoolError {
            throw error
        } catch {
            throw SpoolError(message: "cannot create a spool file at \(path): \(error)")
        }
    }
}
