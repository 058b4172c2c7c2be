import BinaryIO

extension PGOutputMessage {
    /// `M`: a logical decoding message from `pg_logical_emit_message`. Transactional ones arrive
    /// inside their transaction's Begin…Commit; non-transactional ones at once, on their own,
    /// even when the emitting transaction rolls back.
    public struct LogicalMessage: Sendable, Hashable {
        /// The streamed transaction's xid, inside a Stream Start/Stop block.
        public var xid: UInt32?
        public var flags: Flags
        /// The LSN of the message.
        public var lsn: LSN
        public var prefix: String
        /// The content, as given to pg_logical_emit_message (any bytes).
        public var content: ArraySlice<UInt8>

        public init(xid: UInt32? = nil, flags: Flags, lsn: LSN, prefix: String, content: ArraySlice<UInt8>) {
            self.xid = xid
            self.flags = flags
            self.lsn = lsn
            self.prefix = prefix
            self.content = content
        }

        public var isTransactional: Bool { flags.contains(.transactional) }

        public struct Flags: OptionSet, Hashable, Sendable {
            public var rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }
            public static let transactional = Flags(rawValue: 1)
        }

        static func decode(from reader: inout MessageReader, xid: UInt32?) throws(ByteReadError) -> Self {
            let flags = Flags(rawValue: try reader.readByte("flags"))
            let lsn = try reader.readLSN("lsn")
            let prefix = try reader.readString("prefix")
            let length = try reader.readLength("content length")
            return Self(xid: xid, flags: flags, lsn: lsn, prefix: prefix, content: try reader.readBytes(count: length, "content"))
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendStreamXID(xid)
            buffer.append(flags.rawValue)
            buffer.appendLSN(lsn)
            buffer.appendString(prefix)
            buffer.appendLength(content.count)
            buffer.append(contentsOf: content)
        }
    }
}
