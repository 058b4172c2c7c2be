import BinaryIO

/// `w`: WAL data. In logical replication the payload is exactly one pgoutput message and
/// `walStart == walEnd ==` that message's LSN (0/0 for Relation and Type messages).
public struct XLogData: Sendable, Hashable {
    /// The WAL position this data starts at.
    public var walStart: LSN
    /// The current end of WAL on the server.
    public var walEnd: LSN
    /// The server's clock when it sent this frame.
    public var sendTime: PostgresTimestamp
    /// The pgoutput message: decode it with `PGOutputDecoder`. A slice of the frame's bytes.
    public var payload: ArraySlice<UInt8>

    public init(walStart: LSN, walEnd: LSN, sendTime: PostgresTimestamp, payload: ArraySlice<UInt8>) {
        self.walStart = walStart
        self.walEnd = walEnd
        self.sendTime = sendTime
        self.payload = payload
    }

    /// Byte size of the header after the tag: three Int64.
    static let headerSize = 24

    static func decode(from reader: inout MessageReader) throws(ByteReadError) -> XLogData {
        XLogData(
            walStart: try reader.readLSN("dataStart"),
            walEnd: try reader.readLSN("walEnd"),
            sendTime: try reader.readTimestamp("sendTime"),
            payload: reader.readRest()
        )
    }

    func encode(into buffer: inout [UInt8]) {
        buffer.appendLSN(walStart)
        buffer.appendLSN(walEnd)
        buffer.appendTimestamp(sendTime)
        buffer.append(contentsOf: payload)
    }
}
