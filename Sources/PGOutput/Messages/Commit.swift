import BinaryIO

extension PGOutputMessage {
    /// `C`: the transaction begun by the last Begin committed.
    ///
    /// Acknowledge `endLSN` (never `commitLSN`, which replays the transaction after a restart).
    public struct Commit: Sendable, Hashable {
        /// Unused by Postgres so far (always 0); kept so that encoding is exact.
        public var flags: UInt8
        /// The LSN of the commit record.
        public var commitLSN: LSN
        /// The end of the commit record: the position to acknowledge once the transaction is durable.
        public var endLSN: LSN
        public var commitTimestamp: PostgresTimestamp

        public init(flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTimestamp: PostgresTimestamp) {
            self.flags = flags
            self.commitLSN = commitLSN
            self.endLSN = endLSN
            self.commitTimestamp = commitTimestamp
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(
                flags: try reader.readByte("flags"),
                commitLSN: try reader.readLSN("commit_lsn"),
                endLSN: try reader.readLSN("end_lsn"),
                commitTimestamp: try reader.readTimestamp("commit_ts")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.append(flags)
            buffer.appendLSN(commitLSN)
            buffer.appendLSN(endLSN)
            buffer.appendTimestamp(commitTimestamp)
        }
    }
}
