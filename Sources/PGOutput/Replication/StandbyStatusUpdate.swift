import BinaryIO

/// `r`: the client's status report (CopyData from client to server).
///
/// Only `flushed` moves the slot's confirmed_flush_lsn, and the server accepts any value,
/// even one ahead of what it sent: send only what is durable. 0/0 means "unknown" and is ignored.
public struct StandbyStatusUpdate: Sendable, Hashable {
    /// The last WAL byte + 1 received and written.
    public var written: LSN
    /// The last WAL byte + 1 durably stored: what the server may forget.
    public var flushed: LSN
    /// The last WAL byte + 1 applied.
    public var applied: LSN
    /// The client's clock at sending.
    public var clock: PostgresTimestamp
    /// Asks the server to answer at once with a keepalive.
    public var replyRequested: Bool

    public static let tag: UInt8 = 0x72  // r
    /// Encoded size, tag included.
    public static let encodedSize = 34

    public init(written: LSN, flushed: LSN, applied: LSN, clock: PostgresTimestamp, replyRequested: Bool = false) {
        self.written = written
        self.flushed = flushed
        self.applied = applied
        self.clock = clock
        self.replyRequested = replyRequested
    }

    /// The CopyData payload to send.
    public func encode() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.encodedSize)
        encode(into: &buffer)
        return buffer
    }

    public func encode(into buffer: inout [UInt8]) {
        buffer.append(Self.tag)
        buffer.appendLSN(written)
        buffer.appendLSN(flushed)
        buffer.appendLSN(applied)
        buffer.appendTimestamp(clock)
        buffer.appendBool(replyRequested)
    }

    /// The inverse of `encode()`, as a server (or a test) reads it.
    public static func decode(from bytes: ArraySlice<UInt8>) throws(PGOutputError) -> StandbyStatusUpdate {
        do { return try decode(from: MessageReader(bytes)) } catch { throw PGOutputError(error, messageName: "StandbyStatusUpdate") }
    }

    private static func decode(from reader: MessageReader) throws(ByteReadError) -> StandbyStatusUpdate {
        var reader = reader
        let tagOffset = reader.offset
        let tag = try reader.readByte("tag")
        guard tag == Self.tag else {
            throw reader.failure(.invalidValue, at: tagOffset, "tag must be 'r' (0x72), found \(tag)")
        }
        let update = StandbyStatusUpdate(
            written: try reader.readLSN("written"),
            flushed: try reader.readLSN("flushed"),
            applied: try reader.readLSN("applied"),
            clock: try reader.readTimestamp("clock"),
            replyRequested: try reader.readBool("replyRequested")
        )
        try reader.expectEnd()
        return update
    }
}
