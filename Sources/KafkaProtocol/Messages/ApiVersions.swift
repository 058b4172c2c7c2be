import NIOCore

/// ApiVersions (18) request: the first request of a connection. v3 adds the client's software
/// name and version (librdkafka sends "librdkafka" and its version).
public struct ApiVersionsRequest: KafkaRequestMessage {
    public static let apiKey = ApiKey.apiVersions
    public static let messageName: StaticString = "ApiVersionsRequest"

    /// v3+.
    public var clientSoftwareName: String
    /// v3+.
    public var clientSoftwareVersion: String

    public init(clientSoftwareName: String = "", clientSoftwareVersion: String = "") {
        self.clientSoftwareName = clientSoftwareName
        self.clientSoftwareVersion = clientSoftwareVersion
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        guard version >= 3 else { return Self() }
        return Self(
            clientSoftwareName: try reader.readString("client_software_name"),
            clientSoftwareVersion: try reader.readString("client_software_version")
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        guard version >= 3 else { return }
        writer.writeString(clientSoftwareName)
        writer.writeString(clientSoftwareVersion)
    }
}

/// ApiVersions (18) response: the versions of each API the broker serves.
///
/// Its header is always v0, even in flexible versions. Answering a version the broker does not
/// know: UNSUPPORTED_VERSION in the v0 format, still listing the ranges, so that the client
/// retries with the highest version of ApiVersions listed (`unsupportedVersion`).
public struct ApiVersionsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.apiVersions
    public static let messageName: StaticString = "ApiVersionsResponse"

    public struct ApiVersionRange: KafkaStructure {
        public var apiKey: Int16
        public var minVersion: Int16
        public var maxVersion: Int16

        public init(apiKey: Int16, minVersion: Int16, maxVersion: Int16) {
            self.apiKey = apiKey
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }

        public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
            let range = Self(
                apiKey: try reader.readInteger("api_key"),
                minVersion: try reader.readInteger("min_version"),
                maxVersion: try reader.readInteger("max_version")
            )
            try reader.skipTaggedFields()
            return range
        }

        public func write(to writer: inout KafkaWriter, version: Int16) {
            writer.writeInteger(apiKey)
            writer.writeInteger(minVersion)
            writer.writeInteger(maxVersion)
            writer.writeEmptyTaggedFields()
        }
    }

    public var errorCode: KafkaErrorCode
    public var apiKeys: [ApiVersionRange]
    /// v1+.
    public var throttleTimeMs: Int32

    public init(errorCode: KafkaErrorCode = .none, apiKeys: [ApiVersionRange], throttleTimeMs: Int32 = 0) {
        self.errorCode = errorCode
        self.apiKeys = apiKeys
        self.throttleTimeMs = throttleTimeMs
    }

    /// Every API of `ApiKey` with the versions the codecs implement, in api key order.
    public static let supportedRanges: [ApiVersionRange] = ApiKey.allCases.map {
        ApiVersionRange(apiKey: $0.rawValue, minVersion: $0.supportedVersions.lowerBound, maxVersion: $0.supportedVersions.upperBound)
    }

    /// The answer to a successful ApiVersions request.
    public static var supported: Self { Self(apiKeys: supportedRanges) }

    /// The answer to an ApiVersions request of a version above the supported ones; encode it
    /// at version 0, whatever the request's version was.
    public static var unsupportedVersion: Self { Self(errorCode: .unsupportedVersion, apiKeys: supportedRanges) }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        try Self(
            errorCode: reader.readErrorCode(),
            apiKeys: reader.readArray("api_keys", of: ApiVersionRange.self, version: version),
            throttleTimeMs: version >= 1 ? reader.readInteger("throttle_time_ms") : 0
        )
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeErrorCode(errorCode)
        writer.writeArray(apiKeys, version: version)
        if version >= 1 { writer.writeInteger(throttleTimeMs) }
    }
}
