/// The APIs this module decodes: the first field of every request header.
///
/// The raw value is Kafka's api key. Keys outside this enum are valid Kafka APIs that the
/// endpoint does not serve; `KafkaRequest.decode` turns them into `.unsupported`.
public enum ApiKey: Int16, Sendable, CaseIterable, CustomStringConvertible {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case describeGroups = 15
    case listGroups = 16
    case saslHandshake = 17
    case apiVersions = 18
    case offsetForLeaderEpoch = 23
    case saslAuthenticate = 36

    /// The name of the API in Kafka's protocol guide, for errors and logs.
    public var description: String {
        switch self {
        case .produce: "Produce"
        case .fetch: "Fetch"
        case .listOffsets: "ListOffsets"
        case .metadata: "Metadata"
        case .offsetCommit: "OffsetCommit"
        case .offsetFetch: "OffsetFetch"
        case .findCoordinator: "FindCoordinator"
        case .joinGroup: "JoinGroup"
        case .heartbeat: "Heartbeat"
        case .leaveGroup: "LeaveGroup"
        case .syncGroup: "SyncGroup"
        case .describeGroups: "DescribeGroups"
        case .listGroups: "ListGroups"
        case .saslHandshake: "SaslHandshake"
        case .apiVersions: "ApiVersions"
        case .offsetForLeaderEpoch: "OffsetForLeaderEpoch"
        case .saslAuthenticate: "SaslAuthenticate"
        }
    }

    /// The versions of this API that the codecs implement, and so the ones the endpoint
    /// advertises in ApiVersions.
    ///
    /// Produce is listed from v3 although the endpoint refuses every write: librdkafka turns on
    /// record batch v2 (its MsgVer2 feature) only when a broker advertises Produce v3+ together
    /// with Fetch v4+, and without it does not fetch from a v2 log at all.
    /// Fetch stops at v12 because v13 replaces topic names with topic ids.
    public var supportedVersions: ClosedRange<Int16> {
        switch self {
        case .produce: 3...9
        case .fetch: 4...12
        case .listOffsets: 1...7
        case .metadata: 1...12
        case .offsetCommit: 2...8
        case .offsetFetch: 1...7
        case .findCoordinator: 0...4
        case .joinGroup: 0...7
        case .heartbeat: 0...4
        case .leaveGroup: 0...4
        case .syncGroup: 0...5
        case .describeGroups: 0...5
        case .listGroups: 0...4
        case .saslHandshake: 0...1
        case .apiVersions: 0...3
        case .offsetForLeaderEpoch: 2...4
        case .saslAuthenticate: 0...2
        }
    }

    /// The first flexible version (compact strings and arrays, tagged fields) in Kafka's
    /// message schemas; nil for an API that has none. Every later version is flexible too, so
    /// this also tells how to read the header of a version newer than `supportedVersions`.
    public var firstFlexibleVersion: Int16? {
        switch self {
        case .produce: 9
        case .fetch: 12
        case .listOffsets: 6
        case .metadata: 9
        case .offsetCommit: 8
        case .offsetFetch: 6
        case .findCoordinator: 3
        case .joinGroup: 6
        case .heartbeat: 4
        case .leaveGroup: 4
        case .syncGroup: 4
        case .describeGroups: 5
        case .listGroups: 3
        case .saslHandshake: nil
        case .apiVersions: 3
        case .offsetForLeaderEpoch: 4
        case .saslAuthenticate: 2
        }
    }

    public func isFlexible(_ version: Int16) -> Bool {
        guard let firstFlexibleVersion else { return false }
        return version >= firstFlexibleVersion
    }

    /// Request header v2 (with tagged fields) for flexible versions, v1 otherwise.
    public func requestHeaderVersion(_ version: Int16) -> Int16 {
        isFlexible(version) ? 2 : 1
    }

    /// Response header v1 (with tagged fields) for flexible versions, v0 otherwise, except for
    /// ApiVersions, whose response header is always v0: a client that does not yet know which
    /// versions the broker speaks must be able to read the correlation id of the answer.
    public func responseHeaderVersion(_ version: Int16) -> Int16 {
        self != .apiVersions && isFlexible(version) ? 1 : 0
    }
}
