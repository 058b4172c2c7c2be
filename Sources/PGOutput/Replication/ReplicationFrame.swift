import BinaryIO

/// A CopyData message the server sends on a `START_REPLICATION` stream.
///
/// The first byte says what it is: `w` carries WAL data (for logical replication, one pgoutput
/// message), `k` is a keepalive. Other tags decode as `.unknown` so that a caller can log and
/// skip them: a newer server may add frames.
public enum ReplicationFrame: Sendable, Hashable {
    case xLogData(XLogData)
    case primaryKeepalive(PrimaryKeepalive)
    case unknown(tag: UInt8, body: ArraySlice<UInt8>)

    public enum Tag: UInt8, Sendable {
        case xLogData = 0x77  // w
        case primaryKeepalive = 0x6B  // k
    }

    /// Decodes one CopyData payload. The XLogData payload is a slice of `bytes` (no copy).
    public static func decode(from bytes: ArraySlice<UInt8>) throws(PGOutputError) -> ReplicationFrame {
        guard let first = bytes.first else {
            throw PGOutputError(code: .empty, messageName: "replication frame", offset: 0, detail: "no tag byte")
        }
        var reader = MessageReader(bytes)
        switch Tag(rawValue: first) {
        case .xLogData?:
            do {
                _ = try reader.readByte("tag")
                return .xLogData(try XLogData.decode(from: &reader))
            } catch {
                throw PGOutputError(error, messageName: "XLogData")
            }
        case .primaryKeepalive?:
            do {
                _ = try reader.readByte("tag")
                let frame = try PrimaryKeepalive.decode(from: &reader)
                try reader.expectEnd()
                return .primaryKeepalive(frame)
            } catch {
                throw PGOutputError(error, messageName: "PrimaryKeepalive")
            }
        case nil:
            return .unknown(tag: first, body: bytes.dropFirst())
        }
    }

    public static func decode(from bytes: [UInt8]) throws(PGOutputError) -> ReplicationFrame {
        try decode(from: bytes[...])
    }

    /// Copies a buffer the caller does not own for long (libpq's `PQgetCopyData` result, to be
    /// released with `PQfreemem` right after) and decodes it: the frame owns its bytes.
    public static func decode(copying buffer: UnsafeRawBufferPointer) throws(PGOutputError) -> ReplicationFrame {
        try decode(from: Array(buffer))
    }

    /// The frame as the server would send it (for tests and tools).
    public func encode(into buffer: inout [UInt8]) {
        switch self {
        case .xLogData(let frame):
            buffer.append(Tag.xLogData.rawValue)
            frame.encode(into: &buffer)
        case .primaryKeepalive(let frame):
            buffer.append(Tag.primaryKeepalive.rawValue)
            frame.encode(into: &buffer)
        case .unknown(let tag, let body):
            buffer.append(tag)
            buffer.append(contentsOf: body)
        }
    }

    public func encode() -> [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }
}
