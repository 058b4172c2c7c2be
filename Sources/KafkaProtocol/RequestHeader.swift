import NIOCore

/// The header of every request: which API and version, the correlation id the response
/// echoes, and the client id.
///
/// Header v1 for classic request versions, v2 (the same plus tagged fields) for flexible ones;
/// the client id keeps its classic Int16 length in both, so that a broker can read the header
/// of any ApiVersions request, whatever its version.
public struct RequestHeader: Sendable, Hashable {
    /// Kept raw: a request for an API this module does not know still has a header worth
    /// reading (to answer or log it).
    public var apiKeyRawValue: Int16
    public var apiVersion: Int16
    public var correlationID: Int32
    public var clientID: String?

    public init(apiKey: ApiKey, apiVersion: Int16, correlationID: Int32, clientID: String?) {
        self.init(apiKeyRawValue: apiKey.rawValue, apiVersion: apiVersion, correlationID: correlationID, clientID: clientID)
    }

    public init(apiKeyRawValue: Int16, apiVersion: Int16, correlationID: Int32, clientID: String?) {
        self.apiKeyRawValue = apiKeyRawValue
        self.apiVersion = apiVersion
        self.correlationID = correlationID
        self.clientID = clientID
    }

    /// nil for an API this module does not implement.
    public var apiKey: ApiKey? { ApiKey(rawValue: apiKeyRawValue) }

    /// 2 when the request version is flexible, 1 otherwise. For an unknown API it cannot be
    /// told, and 1 is assumed: the fields up to the client id are the same in both.
    public var headerVersion: Int16 {
        apiKey?.requestHeaderVersion(apiVersion) ?? 1
    }

    /// Splits a request frame (without its size prefix) into its header and its body.
    ///
    /// For an unknown API the body starts right after the client id: whether tagged fields
    /// follow cannot be known, and such a request is answered without reading its body.
    public static func decode(from frame: ByteBuffer) throws(KafkaProtocolError) -> (header: RequestHeader, body: ByteBuffer) {
        var reader = KafkaReader(frame, messageName: "RequestHeader", flexible: false)
        let header = RequestHeader(
            apiKeyRawValue: try reader.readInteger("request_api_key"),
            apiVersion: try reader.readInteger("request_api_version"),
            correlationID: try reader.readInteger("correlation_id"),
            clientID: try reader.readNullableString("client_id", compact: false)
        )
        if header.headerVersion >= 2 {
            reader.flexible = true
            try reader.skipTaggedFields()
        }
        return (header, reader.readRest())
    }

    public func encode(into buffer: inout ByteBuffer) {
        var writer = KafkaWriter(buffer: ByteBuffer(), flexible: headerVersion >= 2)
        swap(&writer.buffer, &buffer)
        writer.writeInteger(apiKeyRawValue)
        writer.writeInteger(apiVersion)
        writer.writeInteger(correlationID)
        writer.writeNullableString(clientID, compact: false)
        writer.writeEmptyTaggedFields()
        swap(&writer.buffer, &buffer)
    }
}

/// The header of every response: the correlation id of the request it answers, then (v1,
/// flexible versions except ApiVersions) tagged fields.
public struct ResponseHeader: Sendable, Hashable {
    public var correlationID: Int32

    public init(correlationID: Int32) {
        self.correlationID = correlationID
    }

    public func encode(into buffer: inout ByteBuffer, headerVersion: Int16) {
        buffer.writeInteger(correlationID)
        if headerVersion >= 1 {
            // No tagged fields: an empty section is a single zero varint.
            buffer.writeInteger(UInt8(0))
        }
    }

    public static func decode(from frame: ByteBuffer, headerVersion: Int16) throws(KafkaProtocolError) -> (header: ResponseHeader, body: ByteBuffer) {
        var reader = KafkaReader(frame, messageName: "ResponseHeader", flexible: headerVersion >= 1)
        let header = ResponseHeader(correlationID: try reader.readInteger("correlation_id"))
        try reader.skipTaggedFields()
        return (header, reader.readRest())
    }
}
