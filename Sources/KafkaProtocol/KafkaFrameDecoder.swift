import NIOCore

/// Splits a byte stream into Kafka frames: an Int32 size, then that many bytes. Yields each
/// frame without its size prefix, as a slice of the input (no copy).
///
/// The size is checked before anything waits for or holds the frame: a negative size, or one
/// above `maximumFrameSize`, is an error at once, so a peer cannot make the server buffer
/// gigabytes by announcing them.
public struct KafkaFrameDecoder: NIOSingleStepByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer

    /// Kafka brokers' default `socket.request.max.bytes`.
    public static let defaultMaximumFrameSize = 100 * 1024 * 1024

    public let maximumFrameSize: Int

    public init(maximumFrameSize: Int = KafkaFrameDecoder.defaultMaximumFrameSize) {
        self.maximumFrameSize = maximumFrameSize
    }

    /// The next whole frame, or nil when `buffer` does not yet hold one (nothing is consumed).
    public func nextFrame(from buffer: inout ByteBuffer) throws(KafkaProtocolError) -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard size >= 0 else {
            throw KafkaProtocolError(code: .invalidLength, messageName: "frame", offset: 0, detail: "frame size \(size) is negative")
        }
        guard Int(size) <= maximumFrameSize else {
            throw KafkaProtocolError(
                code: .frameTooLarge, messageName: "frame", offset: 0,
                detail: "frame size \(size) is above the maximum of \(maximumFrameSize)"
            )
        }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(size))
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        try nextFrame(from: &buffer)
    }

    /// At the end of the stream, a partial frame is an error: the peer closed mid-request.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        if let frame = try nextFrame(from: &buffer) { return frame }
        if seenEOF && buffer.readableBytes > 0 {
            throw KafkaProtocolError(
                code: .truncated, messageName: "frame", offset: 0,
                detail: "the stream ended inside a frame (\(buffer.readableBytes) bytes of it received)"
            )
        }
        return nil
    }
}
