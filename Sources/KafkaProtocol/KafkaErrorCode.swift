/// A Kafka error code, as sent in responses (numbers from Kafka's protocol guide).
///
/// A struct with constants rather than an enum: responses decoded from a broker or a test may
/// carry any Int16, and an unknown code must decode rather than fail. The constants are the
/// codes the endpoint answers with.
public struct KafkaErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public init(_ rawValue: Int16) { self.rawValue = rawValue }

    public static let unknownServerError = KafkaErrorCode(-1)
    public static let none = KafkaErrorCode(0)
    public static let offsetOutOfRange = KafkaErrorCode(1)
    public static let corruptMessage = KafkaErrorCode(2)
    public static let unknownTopicOrPartition = KafkaErrorCode(3)
    public static let leaderNotAvailable = KafkaErrorCode(5)
    /// NOT_LEADER_OR_FOLLOWER (NOT_LEADER_FOR_PARTITION before Kafka 2.6).
    public static let notLeaderOrFollower = KafkaErrorCode(6)
    public static let requestTimedOut = KafkaErrorCode(7)
    public static let coordinatorLoadInProgress = KafkaErrorCode(14)
    public static let coordinatorNotAvailable = KafkaErrorCode(15)
    public static let notCoordinator = KafkaErrorCode(16)
    public static let invalidTopic = KafkaErrorCode(17)
    public static let invalidRequiredAcks = KafkaErrorCode(21)
    public static let illegalGeneration = KafkaErrorCode(22)
    public static let inconsistentGroupProtocol = KafkaErrorCode(23)
    public static let invalidGroupID = KafkaErrorCode(24)
    public static let unknownMemberID = KafkaErrorCode(25)
    public static let invalidSessionTimeout = KafkaErrorCode(26)
    public static let rebalanceInProgress = KafkaErrorCode(27)
    public static let topicAuthorizationFailed = KafkaErrorCode(29)
    public static let groupAuthorizationFailed = KafkaErrorCode(30)
    public static let clusterAuthorizationFailed = KafkaErrorCode(31)
    public static let unsupportedSASLMechanism = KafkaErrorCode(33)
    public static let illegalSASLState = KafkaErrorCode(34)
    public static let unsupportedVersion = KafkaErrorCode(35)
    public static let invalidRequest = KafkaErrorCode(42)
    public static let unsupportedForMessageFormat = KafkaErrorCode(43)
    public static let policyViolation = KafkaErrorCode(44)
    public static let transactionalIDAuthorizationFailed = KafkaErrorCode(53)
    public static let saslAuthenticationFailed = KafkaErrorCode(58)
    public static let nonEmptyGroup = KafkaErrorCode(68)
    public static let groupIDNotFound = KafkaErrorCode(69)
    public static let fencedLeaderEpoch = KafkaErrorCode(74)
    public static let unknownLeaderEpoch = KafkaErrorCode(75)
    public static let offsetNotAvailable = KafkaErrorCode(78)
    public static let memberIDRequired = KafkaErrorCode(79)
    public static let groupMaxSizeReached = KafkaErrorCode(81)
    public static let fencedInstanceID = KafkaErrorCode(82)
    public static let unstableOffsetCommit = KafkaErrorCode(88)

    /// The name in Kafka's protocol guide, for logs; the number for codes not listed here.
    public var description: String {
        switch self {
        case .unknownServerError: "UNKNOWN_SERVER_ERROR"
        case .none: "NONE"
        case .offsetOutOfRange: "OFFSET_OUT_OF_RANGE"
        case .corruptMessage: "CORRUPT_MESSAGE"
        case .unknownTopicOrPartition: "UNKNOWN_TOPIC_OR_PARTITION"
        case .leaderNotAvailable: "LEADER_NOT_AVAILABLE"
        case .notLeaderOrFollower: "NOT_LEADER_OR_FOLLOWER"
        case .requestTimedOut: "REQUEST_TIMED_OUT"
        case .coordinatorLoadInProgress: "COORDINATOR_LOAD_IN_PROGRESS"
        case .coordinatorNotAvailable: "COORDINATOR_NOT_AVAILABLE"
        case .notCoordinator: "NOT_COORDINATOR"
        case .invalidTopic: "INVALID_TOPIC_EXCEPTION"
        case .invalidRequiredAcks: "INVALID_REQUIRED_ACKS"
        case .illegalGeneration: "ILLEGAL_GENERATION"
        case .inconsistentGroupProtocol: "INCONSISTENT_GROUP_PROTOCOL"
        case .invalidGroupID: "INVALID_GROUP_ID"
        case .unknownMemberID: "UNKNOWN_MEMBER_ID"
        case .invalidSessionTimeout: "INVALID_SESSION_TIMEOUT"
        case .rebalanceInProgress: "REBALANCE_IN_PROGRESS"
        case .topicAuthorizationFailed: "TOPIC_AUTHORIZATION_FAILED"
        case .groupAuthorizationFailed: "GROUP_AUTHORIZATION_FAILED"
        case .clusterAuthorizationFailed: "CLUSTER_AUTHORIZATION_FAILED"
        case .unsupportedSASLMechanism: "UNSUPPORTED_SASL_MECHANISM"
        case .illegalSASLState: "ILLEGAL_SASL_STATE"
        case .unsupportedVersion: "UNSUPPORTED_VERSION"
        case .invalidRequest: "INVALID_REQUEST"
        case .unsupportedForMessageFormat: "UNSUPPORTED_FOR_MESSAGE_FORMAT"
        case .policyViolation: "POLICY_VIOLATION"
        case .transactionalIDAuthorizationFailed: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
        case .saslAuthenticationFailed: "SASL_AUTHENTICATION_FAILED"
        case .nonEmptyGroup: "NON_EMPTY_GROUP"
        case .groupIDNotFound: "GROUP_ID_NOT_FOUND"
        case .fencedLeaderEpoch: "FENCED_LEADER_EPOCH"
        case .unknownLeaderEpoch: "UNKNOWN_LEADER_EPOCH"
        case .offsetNotAvailable: "OFFSET_NOT_AVAILABLE"
        case .memberIDRequired: "MEMBER_ID_REQUIRED"
        case .groupMaxSizeReached: "GROUP_MAX_SIZE_REACHED"
        case .fencedInstanceID: "FENCED_INSTANCE_ID"
        case .unstableOffsetCommit: "UNSTABLE_OFFSET_COMMIT"
        default: "error \(rawValue)"
        }
    }
}

extension KafkaReader {
    mutating func readErrorCode(_ field: StaticString = "error_code") throws(KafkaProtocolError) -> KafkaErrorCode {
        KafkaErrorCode(try readInteger(field, as: Int16.self))
    }
}

extension KafkaWriter {
    mutating func writeErrorCode(_ code: KafkaErrorCode) {
        writeInteger(code.rawValue)
    }
}
