import BinaryIO

extension PGOutputMessage {
    /// `O`: the transaction came from another node through a replication origin
    /// (sent after Begin when the transaction has an origin).
    public struct Origin: Sendable, Hashable {
        /// The commit LSN on the origin server.
        public var commitLSN: LSN
        /// The replication origin's name.
        public var name: String

        public init(commitLSN: LSN, name: String) {
            self.commitLSN = commitLSN
            self.name = name
        }

        static func decode(from reader: inout MessageReader) throws(ByteReadError) -> Self {
            Self(commitLSN: try reader.readLSN("origin_lsn"), name: try reader.readString("name"))
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendLSN(commitLSN)
            buffer.appendString(name)
        }
    }
}
