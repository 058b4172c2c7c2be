import BinaryIO

/// `k`: the server's keepalive. When `replyRequested` is set, answer at once with a
/// `StandbyStatusUpdate`, or the walsender disconnects after `wal_sender_timeout`.
public struct PrimaryKeepalive: Sendable, Hashable {
    /// The current end of WAL on the server.
    public var walEnd: LSN
    public var sendTime: PostgresTimestamp
    public var replyRequested: Bool

    public init(walEnd: LSN, sendTime: PostgresTimestamp, replyRequested: Bool) {
        self.walEnd = walEnd
        self.sendTime = sendTime
        self.replyRequested = replyRequested
    }

    static func decode(from reader: inout MessageReader) throws(ByteReadError) -> PrimaryKeepalive {
        PrimaryKeepalive(
            walEnd: try reader.readLSN("walEnd"),
            sendTime: try reader.readTimestamp("sendTime"),
            replyRequested: try reader.readBool("replyRequested")
        )
    }

    func encode(into buffer: inout [UInt8]) {
        buffer.appendLSN(walEnd)
        buffer.appendTimestamp(sendTime)
        buffer.appendBool(replyRequested)
    }
}
