import BinaryIO

extension PGOutputMessage {
    /// `B`: a transaction starts. Its changes follow; Commit ends it.
    public struct Begin: Sendable, Hashable {
        /// The LSN of the transaction's commit record (`final_lsn`): equal to Commit's `commitLSN`.
        public var finalLSN: LSN
        public var commitTimestamp: PostgresTimestamp
        public var xid: UInt32

        public init(finalLSN: LSN, commitTimestamp: PostgresTimestamp, xid: UInt32) {
            self.finalLSN = finalLSN
            self.commitTimestamp = commitTimestamp
            self.xid = xid
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(
                finalLSN: try reader.readLSN("final_lsn"),
                commitTimestamp: try reader.readTimestamp("commit_ts"),
                xid: try reader.readInteger("xid")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendLSN(finalLSN)
            buffer.appendTimestamp(commitTimestamp)
            buffer.appendInteger(xid)
        }
    }
}
