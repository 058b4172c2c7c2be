import PGOutput

/// Turns decoded pgoutput messages into `SourceEvent`s: keeps the relation and type caches
/// (Relation messages come again after every reconnect and ALTER TABLE), numbers changes
/// within their transaction, fills unchanged TOAST columns from the old row when the server
/// sent it, and checks the order Postgres promises — a change outside a transaction or a
/// Commit that doesn't match its Begin is a protocol error, not something to guess about.
///
/// A value type without I/O, so the protocol logic is tested with encoded messages alone.
public struct TransactionAssembler: Sendable {
    public private(set) var relations: [UInt32: PGOutputMessage.Relation] = [:]
    /// Types announced by Type messages (enums, domains, …: OIDs of user types).
    public private(set) var types: [UInt32: PGOutputMessage.TypeDefinition] = [:]
    /// The open (non-streamed) transaction.
    public private(set) var current: TransactionBegin?
    private var nextSequence = 0
    /// Streamed transactions seen but not yet committed or aborted, with their next sequence.
    private var streamed: [UInt32: Int] = [:]
    private var streamXID: UInt32?

    public init() {}

    /// True when no transaction, streamed or not, is open.
    public var isIdle: Bool { current == nil && streamed.isEmpty }

    /// Forgets open transactions (after a reconnect: the server sends them again). The
    /// relation cache is kept; the server re-sends Relation messages anyway.
    public mutating func reset() {
        current = nil
        nextSequence = 0
        streamed = [:]
        streamXID = nil
    }

    /// The event for one message that arrived at `lsn` (the XLogData's start), or nil when
    /// the message only updates the caches.
    public mutating func apply(_ message: PGOutputMessage, at lsn: LSN) throws(PostgresError) -> SourceEvent? {
        switch message {
        case .relation(let relation):
            relations[relation.relationID] = relation
            return nil
        case .type(let type):
            types[type.typeOID] = type
            return nil
        case .origin:
            return nil
        case .begin(let begin):
            guard current == nil else { throw violation("Begin of xid \(begin.xid) inside transaction \(current!.xid)") }
            let header = TransactionBegin(xid: begin.xid, commitLSN: begin.finalLSN, commitTime: begin.commitTimestamp)
            current = header
            nextSequence = 0
            return .begin(header)
        case .commit(let commit):
            guard let open = current else { throw violation("Commit at \(commit.commitLSN) outside a transaction") }
            guard open.commitLSN == commit.commitLSN else {
                throw violation("Commit at \(commit.commitLSN) does not match Begin's final LSN \(open.commitLSN)")
            }
            current = nil
            return .commit(TransactionCommit(xid: open.xid, commitLSN: commit.commitLSN, endLSN: commit.endLSN, commitTime: commit.commitTimestamp))
        case .insert(let insert):
            let relation = try relation(insert.relationID)
            let (xid, sequence) = try position(insert.xid)
            return .change(SourceChange(operation: .insert, xid: xid, lsn: lsn, sequence: sequence, relation: relation, newTuple: insert.newTuple))
        case .update(let update):
            let relation = try relation(update.relationID)
            let (xid, sequence) = try position(update.xid)
            var newTuple = update.newTuple
            if case .oldRow(let oldRow)? = update.old {
                // Replica identity FULL: the old row carries TOASTed values inline, so an
                // unchanged one in the new row is the old value.
                for index in newTuple.columns.indices where newTuple.columns[index] == .unchangedToast && index < oldRow.columns.count {
                    if oldRow.columns[index] != .unchangedToast { newTuple.columns[index] = oldRow.columns[index] }
                }
            }
            return .change(SourceChange(operation: .update, xid: xid, lsn: lsn, sequence: sequence, relation: relation, newTuple: newTuple, oldTuple: update.old))
        case .delete(let delete):
            let relation = try relation(delete.relationID)
            let (xid, sequence) = try position(delete.xid)
            return .change(SourceChange(operation: .delete, xid: xid, lsn: lsn, sequence: sequence, relation: relation, oldTuple: delete.old))
        case .truncate(let truncate):
            var truncated: [PGOutputMessage.Relation] = []
            for id in truncate.relationIDs { truncated.append(try relation(id)) }
            guard let first = truncated.first else { throw violation("Truncate without relations") }
            let (xid, sequence) = try position(truncate.xid)
            return .change(SourceChange(
                operation: .truncate, xid: xid, lsn: lsn, sequence: sequence, relation: first,
                truncatedRelations: truncated, truncateOptions: truncate.options))
        case .message(let message):
            let xid: UInt32?
            if message.isTransactional {
                xid = try position(message.xid).xid
            } else {
                xid = message.xid
            }
            return .message(SourceMessage(xid: xid, lsn: message.lsn, isTransactional: message.isTransactional, prefix: message.prefix, content: message.content))
        case .streamStart(let start):
            guard streamXID == nil else { throw violation("Stream Start of xid \(start.xid) inside the block of \(streamXID!)") }
            streamXID = start.xid
            if streamed[start.xid] == nil { streamed[start.xid] = 0 }
            return .streamStart(xid: start.xid, firstSegment: start.isFirstSegment)
        case .streamStop:
            guard streamXID != nil else { throw violation("Stream Stop outside a stream block") }
            streamXID = nil
            return .streamStop
        case .streamCommit(let commit):
            guard streamed.removeValue(forKey: commit.xid) != nil else {
                throw violation("Stream Commit of xid \(commit.xid), which was never streamed")
            }
            return .streamCommit(TransactionCommit(xid: commit.xid, commitLSN: commit.commitLSN, endLSN: commit.endLSN, commitTime: commit.commitTimestamp))
        case .streamAbort(let abort):
            if abort.isTopLevel { streamed[abort.xid] = nil }
            return .streamAbort(xid: abort.xid, subtransactionXID: abort.subtransactionXID)
        case .streamPrepare(let prepare):
            streamed[prepare.xid] = nil
            return .prepare(prepare)
        case .beginPrepare(let begin):
            guard current == nil else { throw violation("Begin Prepare of xid \(begin.xid) inside transaction \(current!.xid)") }
            current = TransactionBegin(xid: begin.xid, commitLSN: begin.prepareLSN, commitTime: begin.prepareTimestamp)
            nextSequence = 0
            return .beginPrepare(begin)
        case .prepare(let prepare):
            guard current?.xid == prepare.xid else { throw violation("Prepare of xid \(prepare.xid) outside its Begin Prepare") }
            current = nil
            return .prepare(prepare)
        case .commitPrepared(let commit):
            return .commitPrepared(commit)
        case .rollbackPrepared(let rollback):
            return .rollbackPrepared(rollback)
        case .unknown:
            return nil
        }
    }

    private func relation(_ id: UInt32) throws(PostgresError) -> PGOutputMessage.Relation {
        guard let relation = relations[id] else { throw violation("change for relation \(id), which no Relation message announced") }
        return relation
    }

    /// The xid and sequence number of the next change: of the open transaction, or — in a
    /// stream block — of the streamed transaction. There the change names the (sub)transaction
    /// that made it, as sent: a subtransaction's xid when it was made after a SAVEPOINT, which
    /// is what a Stream Abort of that subtransaction names. Its sequence number is the block's
    /// top-level transaction's, so (commit LSN, sequence) orders the whole transaction and
    /// only top-level transactions are tracked as open.
    private mutating func position(_ streamedXID: UInt32?) throws(PostgresError) -> (xid: UInt32, sequence: Int) {
        if let block = streamXID {
            let sequence = streamed[block, default: 0]
            streamed[block] = sequence + 1
            return (streamedXID ?? block, sequence)
        }
        guard let open = current else { throw violation("a change outside any transaction") }
        defer { nextSequence += 1 }
        return (open.xid, nextSequence)
    }

    private func violation(_ what: String) -> PostgresError {
        PostgresError(code: .protocolViolation, message: "unexpected pgoutput message order: \(what)")
    }
}
