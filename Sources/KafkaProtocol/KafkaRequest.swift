import NIOCore

/// One decoded request: the body of a request frame, dispatched on its header's api key and
/// version.
public enum KafkaRequest: Sendable, Hashable {
    case produce(ProduceRequest)
    case fetch(FetchRequest)
    case listOffsets(ListOffsetsRequest)
    case metadata(MetadataRequest)
    case offsetCommit(OffsetCommitRequest)
    case offsetFetch(OffsetFetchRequest)
    case findCoordinator(FindCoordinatorRequest)
    case joinGroup(JoinGroupRequest)
    case heartbeat(HeartbeatRequest)
    case leaveGroup(LeaveGroupRequest)
    case syncGroup(SyncGroupRequest)
    case describeGroups(DescribeGroupsRequest)
    case listGroups(ListGroupsRequest)
    case saslHandshake(SaslHandshakeRequest)
    case apiVersions(ApiVersionsRequest)
    case offsetForLeaderEpoch(OffsetForLeaderEpochRequest)
    case saslAuthenticate(SaslAuthenticateRequest)
    /// An API this module does not know, or a version of one it does not implement: well
    /// formed as far as the header goes, but the body is not read.
    ///
    /// For ApiVersions the answer is `ApiVersionsResponse.unsupportedVersion` encoded at v0
    /// (the client then retries with a version listed); for other APIs a client only sends
    /// versions the broker advertised, and the connection can be closed.
    case unsupported(apiKey: Int16, version: Int16)

    /// Decodes the body that follows `header` in a request frame: every byte must belong to it.
    public static func decode(header: RequestHeader, body: ByteBuffer) throws(KafkaProtocolError) -> KafkaRequest {
        guard let apiKey = header.apiKey, apiKey.supportedVersions.contains(header.apiVersion) else {
            return .unsupported(apiKey: header.apiKeyRawValue, version: header.apiVersion)
        }
        let version = header.apiVersion
        switch apiKey {
        case .produce: return .produce(try .decode(from: body, version: version))
        case .fetch: return .fetch(try .decode(from: body, version: version))
        case .listOffsets: return .listOffsets(try .decode(from: body, version: version))
        case .metadata: return .metadata(try .decode(from: body, version: version))
        case .offsetCommit: return .offsetCommit(try .decode(from: body, version: version))
        case .offsetFetch: return .offsetFetch(try .decode(from: body, version: version))
        case .findCoordinator: return .findCoordinator(try .decode(from: body, version: version))
        case .joinGroup: return .joinGroup(try .decode(from: body, version: version))
        case .heartbeat: return .heartbeat(try .decode(from: body, version: version))
        case .leaveGroup: return .leaveGroup(try .decode(from: body, version: version))
        case .syncGroup: return .syncGroup(try .decode(from: body, version: version))
        case .describeGroups: return .describeGroups(try .decode(from: body, version: version))
        case .listGroups: return .listGroups(try .decode(from: body, version: version))
        case .saslHandshake: return .saslHandshake(try .decode(from: body, version: version))
        case .apiVersions: return .apiVersions(try .decode(from: body, version: version))
        case .offsetForLeaderEpoch: return .offsetForLeaderEpoch(try .decode(from: body, version: version))
        case .saslAuthenticate: return .saslAuthenticate(try .decode(from: body, version: version))
        }
    }

    /// Decodes a whole request frame without its size prefix (as `KafkaFrameDecoder` yields it).
    public static func decode(frame: ByteBuffer) throws(KafkaProtocolError) -> (header: RequestHeader, request: KafkaRequest) {
        let (header, body) = try RequestHeader.decode(from: frame)
        return (header, try decode(header: header, body: body))
    }

    /// The API of this request; nil for `.unsupported` ones this module does not know.
    public var apiKey: ApiKey? {
        switch self {
        case .produce: .produce
        case .fetch: .fetch
        case .listOffsets: .listOffsets
        case .metadata: .metadata
        case .offsetCommit: .offsetCommit
        case .offsetFetch: .offsetFetch
        case .findCoordinator: .findCoordinator
        case .joinGroup: .joinGroup
        case .heartbeat: .heartbeat
        case .leaveGroup: .leaveGroup
        case .syncGroup: .syncGroup
        case .describeGroups: .describeGroups
        case .listGroups: .listGroups
        case .saslHandshake: .saslHandshake
        case .apiVersions: .apiVersions
        case .offsetForLeaderEpoch: .offsetForLeaderEpoch
        case .saslAuthenticate: .saslAuthenticate
        case .unsupported(let apiKey, _): ApiKey(rawValue: apiKey)
        }
    }

    /// The request as a client sends it: the size, `header`, then the body at the header's
    /// version (for tests and tools). An `.unsupported` request has no body to write.
    public func encodeFrame(header: RequestHeader, into buffer: inout ByteBuffer) {
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        header.encode(into: &buffer)
        let version = header.apiVersion
        switch self {
        case .produce(let request): request.encode(into: &buffer, version: version)
        case .fetch(let request): request.encode(into: &buffer, version: version)
        case .listOffsets(let request): request.encode(into: &buffer, version: version)
        case .metadata(let request): request.encode(into: &buffer, version: version)
        case .offsetCommit(let request): request.encode(into: &buffer, version: version)
        case .offsetFetch(let request): request.encode(into: &buffer, version: version)
        case .findCoordinator(let request): request.encode(into: &buffer, version: version)
        case .joinGroup(let request): request.encode(into: &buffer, version: version)
        case .heartbeat(let request): request.encode(into: &buffer, version: version)
        case .leaveGroup(let request): request.encode(into: &buffer, version: version)
        case .syncGroup(let request): request.encode(into: &buffer, version: version)
        case .describeGroups(let request): request.encode(into: &buffer, version: version)
        case .listGroups(let request): request.encode(into: &buffer, version: version)
        case .saslHandshake(let request): request.encode(into: &buffer, version: version)
        case .apiVersions(let request): request.encode(into: &buffer, version: version)
        case .offsetForLeaderEpoch(let request): request.encode(into: &buffer, version: version)
        case .saslAuthenticate(let request): request.encode(into: &buffer, version: version)
        case .unsupported: break
        }
        buffer.setInteger(Int32(buffer.writerIndex - sizeIndex - 4), at: sizeIndex)
    }

    public func encodeFrame(header: RequestHeader) -> ByteBuffer {
        var buffer = ByteBuffer()
        encodeFrame(header: header, into: &buffer)
        return buffer
    }
}
