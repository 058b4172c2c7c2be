import NIOCore

/// A structure of the wire format that reads and writes itself at a given version: a whole
/// request or response body, or one element of an array inside one.
///
/// Fields that a version lacks are neither read nor written; reading leaves them at the default
/// Kafka's schema gives them, so `read(write(m, v), v)` equals `m` whenever `m` holds only
/// what version `v` can carry.
public protocol KafkaStructure: Sendable, Hashable {
    /// Reads the fields of `version`, including the tagged-field section of a nested structure
    /// in a flexible version (a whole message's section is read by `decode(from:version:)`).
    static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self
    func write(to writer: inout KafkaWriter, version: Int16)
}

/// A request or response body.
public protocol KafkaMessage: KafkaStructure {
    static var apiKey: ApiKey { get }
    /// The schema's name of the message, for errors.
    static var messageName: StaticString { get }
}

/// A request body: the endpoint decodes these.
public protocol KafkaRequestMessage: KafkaMessage {}
/// A response body: the endpoint encodes these.
public protocol KafkaResponseMessage: KafkaMessage {}

extension KafkaMessage {
    /// Decodes a whole body (what follows the header in a frame): every byte must belong to it.
    public static func decode(from body: ByteBuffer, version: Int16) throws(KafkaProtocolError) -> Self {
        guard apiKey.supportedVersions.contains(version) else {
            throw KafkaProtocolError(
                code: .unsupportedVersion, messageName: messageName.description, offset: 0,
                detail: "version \(version) is not one of \(apiKey.supportedVersions)"
            )
        }
        var reader = KafkaReader(body, messageName: messageName, flexible: apiKey.isFlexible(version))
        let message = try read(from: &reader, version: version)
        try reader.skipTaggedFields()
        try reader.expectEnd()
        return message
    }

    /// Appends the body at `version`, which must be one of `apiKey.supportedVersions`: the
    /// caller chose it from the request it answers, which was decoded only if supported.
    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        precondition(Self.apiKey.supportedVersions.contains(version), "\(Self.messageName) v\(version) is not implemented")
        // The writer takes the caller's storage for the duration, so that writing does not copy it.
        var writer = KafkaWriter(buffer: ByteBuffer(), flexible: Self.apiKey.isFlexible(version))
        swap(&writer.buffer, &buffer)
        write(to: &writer, version: version)
        writer.writeEmptyTaggedFields()
        swap(&writer.buffer, &buffer)
    }

    public func encode(version: Int16) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer, version: version)
        return buffer
    }
}

/// Complete response frames: size, header and body.
public enum KafkaResponseFrame {
    /// Appends `response` as a frame answering the request `correlationID` at `version`: the
    /// Int32 size, the response header of the version's kind, then the body.
    public static func encode<Response: KafkaResponseMessage>(
        _ response: Response, version: Int16, correlationID: Int32, into buffer: inout ByteBuffer
    ) {
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        let header = ResponseHeader(correlationID: correlationID)
        header.encode(into: &buffer, headerVersion: Response.apiKey.responseHeaderVersion(version))
        response.encode(into: &buffer, version: version)
        let size = buffer.writerIndex - sizeIndex - 4
        precondition(size <= Int(Int32.max), "a Kafka frame is at most Int32.max bytes")
        buffer.setInteger(Int32(size), at: sizeIndex)
    }

    public static func encode<Response: KafkaResponseMessage>(_ response: Response, version: Int16, correlationID: Int32) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(response, version: version, correlationID: correlationID, into: &buffer)
        return buffer
    }

    /// Decodes a response frame without its size prefix (as `KafkaFrameDecoder` yields it): the
    /// client side, for tests and tools.
    public static func decode<Response: KafkaResponseMessage>(
        _: Response.Type, frame: ByteBuffer, version: Int16
    ) throws(KafkaProtocolError) -> (header: ResponseHeader, response: Response) {
        let (header, body) = try ResponseHeader.decode(from: frame, headerVersion: Response.apiKey.responseHeaderVersion(version))
        return (header, try Response.decode(from: body, version: version))
    }
}
