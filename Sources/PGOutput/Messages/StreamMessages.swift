import BinaryIO

// Streaming of large in-progress transactions (protocol 2+, `streaming` on): the transaction's
// changes arrive in Stream Start … Stream Stop chunks, possibly interleaved with other
// transactions, and end with Stream Commit, Stream Abort (of the whole transaction) or Stream
// Prepare. Stream Stop (`E`) has no fields: it is `PGOutputMessage.streamStop`.

extension PGOutputMessage {
    /// `S`: a chunk of a streamed transaction starts; changes up to Stream Stop carry its xid.
    public struct StreamStart: Sendable, Hashable {
        public var xid: UInt32
        /// The first chunk of this transaction.
        public var isFirstSegment: Bool

        public init(xid: UInt32, isFirstSegment: Bool) {
            self.xid = xid
            self.isFirstSegment = isFirstSegment
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(xid: try reader.readInteger("xid"), isFirstSegment: try reader.readBool("first_segment"))
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendInteger(xid)
            buffer.appendBool(isFirstSegment)
        }
    }

    /// `c`: a streamed transaction committed. Acknowledge `endLSN`, as for Commit.
    public struct StreamCommit: Sendable, Hashable {
        public var xid: UInt32
        /// Unused by Postgres so far (always 0).
        public var flags: UInt8
        public var commitLSN: LSN
        public var endLSN: LSN
        public var commitTimestamp: PostgresTimestamp

        public init(xid: UInt32, flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTimestamp: PostgresTimestamp) {
            self.xid = xid
            self.flags = flags
            self.commitLSN = commitLSN
            self.endLSN = endLSN
            self.commitTimestamp = commitTimestamp
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(
                xid: try reader.readInteger("xid"),
                flags: try reader.readByte("flags"),
                commitLSN: try reader.readLSN("commit_lsn"),
                endLSN: try reader.readLSN("end_lsn"),
                commitTimestamp: try reader.readTimestamp("commit_ts")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendInteger(xid)
            buffer.append(flags)
            buffer.appendLSN(commitLSN)
            buffer.appendLSN(endLSN)
            buffer.appendTimestamp(commitTimestamp)
        }
    }

    /// `A`: a streamed (sub)transaction rolled back: drop the changes streamed for
    /// `subtransactionXID` (all of the transaction's when it equals `xid`).
    public struct StreamAbort: Sendable, Hashable {
        /// The top-level transaction.
        public var xid: UInt32
        /// The aborted subtransaction; equal to `xid` when the whole transaction aborted.
        public var subtransactionXID: UInt32
        /// Present with protocol 4 and streaming = parallel (PG16+); decoding needs
        /// `DecodingContext.streamAbortHasAbortInfo` to know.
        public var abortInfo: AbortInfo?

        public init(xid: UInt32, subtransactionXID: UInt32, abortInfo: AbortInfo? = nil) {
            self.xid = xid
            self.subtransactionXID = subtransactionXID
            self.abortInfo = abortInfo
        }

        public var isTopLevel: Bool { xid == subtransactionXID }

        public struct AbortInfo: Sendable, Hashable {
            public var abortLSN: LSN
            public var abortTimestamp: PostgresTimestamp

            public init(abortLSN: LSN, abortTimestamp: PostgresTimestamp) {
                self.abortLSN = abortLSN
                self.abortTimestamp = abortTimestamp
            }
        }

        static func decode(from reader: inout MessageReader, hasAbortInfo: Bool) throws(ByteReadError) -> Self {
            let xid: UInt32 = try reader.readInteger("xid")
            let subtransactionXID: UInt32 = try reader.readInteger("subxid")
            var abortInfo: AbortInfo?
            if hasAbortInfo {
                abortInfo = AbortInfo(abortLSN: try reader.readLSN("abort_lsn"), abortTimestamp: try reader.readTimestamp("abort_ts"))
            }
            return Self(xid: xid, subtransactionXID: subtransactionXID, abortInfo: abortInfo)
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendInteger(xid)
            buffer.appendInteger(subtransactionXID)
            if let abortInfo {
                buffer.appendLSN(abortInfo.abortLSN)
                buffer.appendTimestamp(abortInfo.abortTimestamp)
            }
        }
    }
}
