/// Decodes the pgoutput messages of one replication stream in order, keeping the one piece of
/// state the wire format needs: whether the stream is inside a Stream Start … Stream Stop block
/// (where change messages carry an xid).
///
/// The decoder does not check message order beyond that (a Stream Start inside a block just
/// stays inside): sequencing is the transaction assembler's job. Messages are not gated by
/// protocol version either — a two_phase slot sends prepare messages even with version 1.
/// A message that fails to decode leaves the state unchanged.
///
/// One decoder per replication connection, fed every XLogData payload in order:
///
///     var decoder = PGOutputDecoder(protocolVersion: 2, streaming: .on)
///     switch try ReplicationFrame.decode(copying: copyDataBuffer) {
///     case .xLogData(let data):
///         let message = try decoder.decode(data.payload)  // walStart = the message's LSN
///     case .primaryKeepalive(let keepalive):
///         if keepalive.replyRequested { /* send StandbyStatusUpdate(...).encode() now */ }
///     case .unknown(let tag, _):
///         break  // log and skip
///     }
public struct PGOutputDecoder: Sendable, Hashable {
    public enum Streaming: Sendable, Hashable {
        case off, on
        /// PG16+, protocol 4: Stream Abort carries abort_lsn and abort_ts.
        case parallel
    }

    /// The `proto_version` given to START_REPLICATION.
    public let protocolVersion: Int
    /// The `streaming` option given to START_REPLICATION.
    public let streaming: Streaming
    /// True after Stream Start, false after Stream Stop.
    public private(set) var inStreamBlock = false

    public init(protocolVersion: Int, streaming: Streaming = .off) {
        self.protocolVersion = protocolVersion
        self.streaming = streaming
    }

    /// The context for the next message.
    public var context: PGOutputMessage.DecodingContext {
        PGOutputMessage.DecodingContext(
            inStreamBlock: inStreamBlock,
            streamAbortHasAbortInfo: streaming == .parallel && protocolVersion >= 4
        )
    }

    /// Decodes the next message of the stream (an XLogData payload).
    public mutating func decode(_ payload: ArraySlice<UInt8>) throws(PGOutputError) -> PGOutputMessage {
        let message = try PGOutputMessage.decode(from: payload, context: context)
        switch message {
        case .streamStart: inStreamBlock = true
        case .streamStop: inStreamBlock = false
        default: break
        }
        return message
    }

    public mutating func decode(_ payload: [UInt8]) throws(PGOutputError) -> PGOutputMessage {
        try decode(payload[...])
    }
}
