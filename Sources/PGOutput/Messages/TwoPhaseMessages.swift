import BinaryIO

// Two-phase commit (protocol 3, `two_phase` on, or any protocol on a slot created with
// TWO_PHASE): a prepared transaction arrives as Begin Prepare … Prepare, and its outcome later
// as Commit Prepared or Rollback Prepared, matched by `gid` (and xid).

extension PGOutputMessage {
    /// `b`: a prepared transaction starts.
    public struct BeginPrepare: Sendable, Hashable {
        /// The LSN of the PREPARE record.
        public var prepareLSN: LSN
        /// The end of the PREPARE record.
        public var endLSN: LSN
        public var prepareTimestamp: PostgresTimestamp
        public var xid: UInt32
        /// The transaction's global identifier (PREPARE TRANSACTION 'gid').
        public var gid: String

        public init(prepareLSN: LSN, endLSN: LSN, prepareTimestamp: PostgresTimestamp, xid: UInt32, gid: String) {
            self.prepareLSN = prepareLSN
            self.endLSN = endLSN
            self.prepareTimestamp = prepareTimestamp
            self.xid = xid
            self.gid = gid
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(
                prepareLSN: try reader.readLSN("prepare_lsn"),
                endLSN: try reader.readLSN("end_lsn"),
                prepareTimestamp: try reader.readTimestamp("prepare_ts"),
                xid: try reader.readInteger("xid"),
                gid: try reader.readString("gid")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendLSN(prepareLSN)
            buffer.appendLSN(endLSN)
            buffer.appendTimestamp(prepareTimestamp)
            buffer.appendInteger(xid)
            buffer.appendString(gid)
        }
    }

    /// `P` (Prepare) and `p` (Stream Prepare): the transaction was prepared.
    public struct Prepare: Sendable, Hashable {
        /// Unused by Postgres so far (always 0).
        public var flags: UInt8
        public var prepareLSN: LSN
        public var endLSN: LSN
        public var prepareTimestamp: PostgresTimestamp
        public var xid: UInt32
        public var gid: String

        public init(flags: UInt8 = 0, prepareLSN: LSN, endLSN: LSN, prepareTimestamp: PostgresTimestamp, xid: UInt32, gid: String) {
            self.flags = flags
            self.prepareLSN = prepareLSN
            self.endLSN = endLSN
            self.prepareTimestamp = prepareTimestamp
            self.xid = xid
            self.gid = gid
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(
                flags: try reader.readByte("flags"),
                prepareLSN: try reader.readLSN("prepare_lsn"),
                endLSN: try reader.readLSN("end_lsn"),
                prepareTimestamp: try reader.readTimestamp("prepare_ts"),
                xid: try reader.readInteger("xid"),
                gid: try reader.readString("gid")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.append(flags)
            buffer.appendLSN(prepareLSN)
            buffer.appendLSN(endLSN)
            buffer.appendTimestamp(prepareTimestamp)
            buffer.appendInteger(xid)
            buffer.appendString(gid)
        }
    }

    /// `K`: a prepared transaction committed (COMMIT PREPARED). Acknowledge `endLSN`.
    public struct CommitPrepared: Sendable, Hashable {
        /// Unused by Postgres so far (always 0).
        public var flags: UInt8
        /// The LSN of the COMMIT PREPARED record.
        public var commitLSN: LSN
        public var endLSN: LSN
        public var commitTimestamp: PostgresTimestamp
        public var xid: UInt32
        public var gid: String

        public init(flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTimestamp: PostgresTimestamp, xid: UInt32, gid: String) {
            self.flags = flags
            self.commitLSN = commitLSN
            self.endLSN = endLSN
            self.commitTimestamp = commitTimestamp
            self.xid = xid
            self.gid = gid
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(
                flags: try reader.readByte("flags"),
                commitLSN: try reader.readLSN("commit_lsn"),
                endLSN: try reader.readLSN("end_lsn"),
                commitTimestamp: try reader.readTimestamp("commit_ts"),
                xid: try reader.readInteger("xid"),
                gid: try reader.readString("gid")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.append(flags)
            buffer.appendLSN(commitLSN)
            buffer.appendLSN(endLSN)
            buffer.appendTimestamp(commitTimestamp)
            buffer.appendInteger(xid)
            buffer.appendString(gid)
        }
    }

    /// `r`: a prepared transaction rolled back (ROLLBACK PREPARED).
    public struct RollbackPrepared: Sendable, Hashable {
        /// Unused by Postgres so far (always 0).
        public var flags: UInt8
        /// The end of the PREPARE record.
        public var prepareEndLSN: LSN
        /// The end of the ROLLBACK PREPARED record.
        public var rollbackEndLSN: LSN
        public var prepareTimestamp: PostgresTimestamp
        public var rollbackTimestamp: PostgresTimestamp
        public var xid: UInt32
        public var gid: String

        public init(flags: UInt8 = 0, prepareEndLSN: LSN, rollbackEndLSN: LSN, prepareTimestamp: PostgresTimestamp, rollbackTimestamp: PostgresTimestamp, xid: UInt32, gid: String) {
            self.flags = flags
            self.prepareEndLSN = prepareEndLSN
            self.rollbackEndLSN = rollbackEndLSN
            self.prepareTimestamp = prepareTimestamp
            self.rollbackTimestamp = rollbackTimestamp
            self.xid = xid
            self.gid = gid
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(
                flags: try reader.readByte("flags"),
                prepareEndLSN: try reader.readLSN("prepare_end_lsn"),
                rollbackEndLSN: try reader.readLSN("rollback_end_lsn"),
                prepareTimestamp: try reader.readTimestamp("prepare_ts"),
                rollbackTimestamp: try reader.readTimestamp("rollback_ts"),
                xid: try reader.readInteger("xid"),
                gid: try reader.readString("gid")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.append(flags)
            buffer.appendLSN(prepareEndLSN)
            buffer.appendLSN(rollbackEndLSN)
            buffer.appendTimestamp(prepareTimestamp)
            buffer.appendTimestamp(rollbackTimestamp)
            buffer.appendInteger(xid)
            buffer.appendString(gid)
        }
    }
}
