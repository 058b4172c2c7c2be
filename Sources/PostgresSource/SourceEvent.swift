import PGOutput

/// What the replication source hands to the pipeline, in stream order: transactions as
/// Begin, their changes one by one, Commit — never a whole transaction at once, so a large
/// one does not have to fit in memory.
public enum SourceEvent: Sendable {
    case begin(TransactionBegin)
    case change(SourceChange)
    /// A `pg_logical_emit_message` message: transactional ones arrive between Begin and
    /// Commit; non-transactional ones arrive at once, outside any transaction.
    case message(SourceMessage)
    case commit(TransactionCommit)
    /// The source reconnected and streams again from `resumeFrom` (the last durable position):
    /// anything received since the last Commit was not complete and will be sent again.
    case restarted(resumeFrom: LSN)

    // Streaming of in-progress transactions (protocol 2+, `streaming 'on'`): chunks of
    // several transactions may interleave, each change carries its xid.
    case streamStart(xid: UInt32, firstSegment: Bool)
    case streamStop
    case streamCommit(TransactionCommit)
    /// Rolls back a streamed transaction (`subtransactionXID == xid`) or one of its
    /// subtransactions (ROLLBACK TO SAVEPOINT).
    case streamAbort(xid: UInt32, subtransactionXID: UInt32)

    // Two-phase (slots created with TWO_PHASE).
    case beginPrepare(PGOutputMessage.BeginPrepare)
    case prepare(PGOutputMessage.Prepare)
    case commitPrepared(PGOutputMessage.CommitPrepared)
    case rollbackPrepared(PGOutputMessage.RollbackPrepared)
}

public struct TransactionBegin: Sendable, Hashable {
    public var xid: UInt32
    /// The LSN of the transaction's commit record, known from Begin on.
    public var commitLSN: LSN
    public var commitTime: PostgresTimestamp

    public init(xid: UInt32, commitLSN: LSN, commitTime: PostgresTimestamp) {
        self.xid = xid
        self.commitLSN = commitLSN
        self.commitTime = commitTime
    }
}

public struct TransactionCommit: Sendable, Hashable {
    public var xid: UInt32
    public var commitLSN: LSN
    /// The end of the commit record: the position to acknowledge once the transaction is
    /// durable. Acknowledging `commitLSN` instead would replay the transaction after a restart.
    public var endLSN: LSN
    public var commitTime: PostgresTimestamp

    public init(xid: UInt32, commitLSN: LSN, endLSN: LSN, commitTime: PostgresTimestamp) {
        self.xid = xid
        self.commitLSN = commitLSN
        self.endLSN = endLSN
        self.commitTime = commitTime
    }
}

/// One row change (or one TRUNCATE) of a source transaction.
public struct SourceChange: Sendable {
    public enum Operation: String, Sendable, Hashable {
        case insert, update, delete, truncate
    }

    public var operation: Operation
    public var xid: UInt32
    /// The change's own WAL position. Not unique (COPY rows share one): order changes by
    /// (commit LSN, `sequence`).
    public var lsn: LSN
    /// 0, 1, 2 … within the transaction.
    public var sequence: Int
    /// The table, as the last Relation message described it. For TRUNCATE, the first table.
    public var relation: PGOutputMessage.Relation
    /// The new row (insert, update).
    public var newTuple: TupleData?
    /// The old key (replica identity DEFAULT or INDEX) or the whole old row (FULL).
    public var oldTuple: PGOutputMessage.OldTuple?
    /// TRUNCATE: every truncated table, and whether CASCADE / RESTART IDENTITY were given.
    public var truncatedRelations: [PGOutputMessage.Relation] = []
    public var truncateOptions: PGOutputMessage.Truncate.Options = []

    public init(
        operation: Operation, xid: UInt32, lsn: LSN, sequence: Int, relation: PGOutputMessage.Relation,
        newTuple: TupleData? = nil, oldTuple: PGOutputMessage.OldTuple? = nil,
        truncatedRelations: [PGOutputMessage.Relation] = [], truncateOptions: PGOutputMessage.Truncate.Options = []
    ) {
        self.operation = operation
        self.xid = xid
        self.lsn = lsn
        self.sequence = sequence
        self.relation = relation
        self.newTuple = newTuple
        self.oldTuple = oldTuple
        self.truncatedRelations = truncatedRelations
        self.truncateOptions = truncateOptions
    }

    public var table: TableName { TableName(schema: relation.namespace.isEmpty ? "pg_catalog" : relation.namespace, name: relation.name) }
}

public struct SourceMessage: Sendable, Hashable {
    public var xid: UInt32?
    public var lsn: LSN
    public var isTransactional: Bool
    public var prefix: String
    public var content: ArraySlice<UInt8>

    public init(xid: UInt32?, lsn: LSN, isTransactional: Bool, prefix: String, content: ArraySlice<UInt8>) {
        self.xid = xid
        self.lsn = lsn
        self.isTransactional = isTransactional
        self.prefix = prefix
        self.content = content
    }
}
