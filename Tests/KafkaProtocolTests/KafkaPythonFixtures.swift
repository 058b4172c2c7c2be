import NIOCore
import Testing

@testable import KafkaProtocol

/// Frames encoded by kafka-python 3.0.12 (`scripts/kafka-python-fixtures` prints them): an
/// independent encoder, so these check the codecs against another reading of the schemas,
/// not only against themselves. Every request has correlation id 7 and client id "kafka-python".
enum KafkaPythonFixtures {
    static let requests: [(name: String, hex: String)] = [
        ("Fetch v4", "000000470001000400000007000c6b61666b612d707974686f6effffffff000001f40000000103200000010000000100066f72646572730000000100000000000000000000002a00100000"),
        ("Fetch v7", "0000005b0001000700000007000c6b61666b612d707974686f6effffffff000001f400000001032000000100000000ffffffff0000000100066f72646572730000000100000000000000000000002affffffffffffffff0010000000000000"),
        ("Fetch v11", "000000610001000b00000007000c6b61666b612d707974686f6effffffff000001f400000001032000000100000000ffffffff0000000100066f72646572730000000100000000ffffffff000000000000002affffffffffffffff00100000000000000000"),
        ("Fetch v12", "0000005e0001000c00000007000c6b61666b612d707974686f6e00ffffffff000001f400000001032000000100000000ffffffff02076f72646572730200000000ffffffff000000000000002affffffffffffffffffffffff001000000000010100"),
        ("Metadata v1", "000000220003000100000007000c6b61666b612d707974686f6e0000000100066f7264657273"),
        ("Metadata v4", "000000230003000400000007000c6b61666b612d707974686f6e0000000100066f726465727300"),
        ("Metadata v9", "000000240003000900000007000c6b61666b612d707974686f6e0002076f72646572730000000000"),
        ("Metadata v12", "000000330003000c00000007000c6b61666b612d707974686f6e000200000000000000000000000000000000076f726465727300000000"),
        ("Metadata v9 all topics", "0000001c0003000900000007000c6b61666b612d707974686f6e000001000000"),
        ("ApiVersions v3", "0000002c0012000300000007000c6b61666b612d707974686f6e000d6b61666b612d707974686f6e07332e302e313200"),
        ("ListOffsets v1", "000000360002000100000007000c6b61666b612d707974686f6effffffff0000000100066f72646572730000000100000000fffffffffffffffe"),
        ("ListOffsets v2", "000000370002000200000007000c6b61666b612d707974686f6effffffff010000000100066f72646572730000000100000000fffffffffffffffe"),
        ("ListOffsets v7", "000000380002000700000007000c6b61666b612d707974686f6e00ffffffff0102076f72646572730200000000fffffffffffffffffffffffe000000"),
        ("OffsetForLeaderEpoch v2", "000000320017000200000007000c6b61666b612d707974686f6e0000000100066f726465727300000001000000000000000300000002"),
        ("OffsetForLeaderEpoch v4", "000000330017000400000007000c6b61666b612d707974686f6e00fffffffe02076f726465727302000000000000000300000002000000"),
        ("FindCoordinator v2", "0000001b000a000200000007000c6b61666b612d707974686f6e0002673100"),
        ("FindCoordinator v4", "0000001d000a000400000007000c6b61666b612d707974686f6e00000203673100"),
        ("JoinGroup v5", "00000041000b000500000007000c6b61666b612d707974686f6e0002673100002710000493e00000ffff0008636f6e73756d657200000001000572616e6765000000020001"),
        ("JoinGroup v7", "00000039000b000700000007000c6b61666b612d707974686f6e0003673100002710000493e0010009636f6e73756d6572020672616e67650300010000"),
        ("SyncGroup v3", "00000032000e000300000007000c6b61666b612d707974686f6e000267310000000100026d31ffff0000000100026d31000000020002"),
        ("SyncGroup v5", "0000003a000e000500000007000c6b61666b612d707974686f6e0003673100000001036d310009636f6e73756d65720672616e676502036d310300020000"),
        ("Heartbeat v0", "00000022000c000000000007000c6b61666b612d707974686f6e000267310000000100026d31"),
        ("Heartbeat v4", "00000023000c000400000007000c6b61666b612d707974686f6e0003673100000001036d310000"),
        ("LeaveGroup v1", "0000001e000d000100000007000c6b61666b612d707974686f6e0002673100026d31"),
        ("LeaveGroup v4", "00000021000d000400000007000c6b61666b612d707974686f6e0003673102036d31000000"),
        ("OffsetCommit v2", "000000480008000200000007000c6b61666b612d707974686f6e000267310000000100026d31ffffffffffffffff0000000100066f72646572730000000100000000000000000000002a0000"),
        ("OffsetCommit v8", "0000003f0008000800000007000c6b61666b612d707974686f6e0003673100000001036d310002076f72646572730200000000000000000000002affffffff01000000"),
        ("OffsetFetch v1", "000000320009000100000007000c6b61666b612d707974686f6e000267310000000100066f7264657273000000020000000000000001"),
        ("OffsetFetch v7", "0000002e0009000700000007000c6b61666b612d707974686f6e0003673102076f7264657273030000000000000001000100"),
        ("Produce v3", "000000390000000300000007000c6b61666b612d707974686f6effffffff000075300000000100066f7264657273000000010000000000000003010203"),
        ("Produce v9", "000000320000000900000007000c6b61666b612d707974686f6e0000ffff0000753002076f7264657273020000000004010203000000"),
    ]

    static let responses: [String: String] = [
        "ApiVersions response v3": "0000001a0000000700000300010004000c00001200000003000000000000",
        "ApiVersions response v0": "0000001000000007002300000001001200000003",
        "Metadata response v1": "0000004e00000007000000010000000100096c6f63616c686f737400002384ffff0000000100000001000000066f726465727300000000010000000000000000000100000001000000010000000100000001",
        "Metadata response v9": "0000005a00000007000000000002000000010a6c6f63616c686f7374000023840000086f7574666c6f7700000001020000076f72646572730002000000000000000000010000000002000000010200000001010080000000008000000000",
        "Fetch response v4": "0000004a00000007000000000000000100066f7264657273000000010000000000000000000000000064000000000000005a000000010000000000000007000000000000003200000004deadbeef",
        "Fetch response v12": "0000005400000007000000000000000000000002076f7264657273020000000000000000000000000064000000000000005a0000000000000000020000000000000007000000000000003200ffffffff05deadbeef000000",
    ]

    static let fetch = FetchRequest(
        maxWaitMs: 500, minBytes: 1, maxBytes: 52_428_800, isolationLevel: .readCommitted,
        topics: [.init(name: "orders", partitions: [.init(partition: 0, fetchOffset: 42, partitionMaxBytes: 1_048_576)])]
    )
    static let listOffsetsTopics: [ListOffsetsRequest.Topic] = [
        .init(name: "orders", partitions: [.init(partitionIndex: 0, timestamp: ListOffsetsRequest.earliestTimestamp)])
    ]
    static let joinGroup = JoinGroupRequest(
        groupID: "g1", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 300_000, memberID: "", protocolType: "consumer",
        protocols: [.init(name: "range", metadata: buffer([0, 1]))]
    )
    static let syncAssignments: [SyncGroupRequest.Assignment] = [.init(memberID: "m1", assignment: buffer([0, 2]))]
    static let offsetCommitTopics: [OffsetCommitRequest.Topic] = [
        .init(name: "orders", partitions: [.init(partitionIndex: 0, committedOffset: 42, committedMetadata: "")])
    ]

    /// What each request decodes to.
    static let expected: [String: KafkaRequest] = [
        "Fetch v4": .fetch(fetch),
        "Fetch v7": .fetch(fetch),
        "Fetch v11": .fetch(fetch),
        "Fetch v12": .fetch(fetch),
        "Metadata v1": .metadata(.init(topics: [.init(name: "orders")], allowAutoTopicCreation: true)),
        "Metadata v4": .metadata(.init(topics: [.init(name: "orders")], allowAutoTopicCreation: false)),
        "Metadata v9": .metadata(.init(topics: [.init(name: "orders")], allowAutoTopicCreation: false)),
        "Metadata v12": .metadata(.init(topics: [.init(name: "orders")], allowAutoTopicCreation: false)),
        "Metadata v9 all topics": .metadata(.init(topics: nil, allowAutoTopicCreation: true)),
        "ApiVersions v3": .apiVersions(.init(clientSoftwareName: "kafka-python", clientSoftwareVersion: "3.0.12")),
        "ListOffsets v1": .listOffsets(.init(isolationLevel: .readUncommitted, topics: listOffsetsTopics)),
        "ListOffsets v2": .listOffsets(.init(isolationLevel: .readCommitted, topics: listOffsetsTopics)),
        "ListOffsets v7": .listOffsets(.init(isolationLevel: .readCommitted, topics: listOffsetsTopics)),
        "OffsetForLeaderEpoch v2": .offsetForLeaderEpoch(.init(topics: [.init(name: "orders", partitions: [.init(partition: 0, currentLeaderEpoch: 3, leaderEpoch: 2)])])),
        "OffsetForLeaderEpoch v4": .offsetForLeaderEpoch(.init(topics: [.init(name: "orders", partitions: [.init(partition: 0, currentLeaderEpoch: 3, leaderEpoch: 2)])])),
        "FindCoordinator v2": .findCoordinator(.init(key: "g1")),
        "FindCoordinator v4": .findCoordinator(.init(coordinatorKeys: ["g1"])),
        "JoinGroup v5": .joinGroup(joinGroup),
        "JoinGroup v7": .joinGroup(joinGroup),
        "SyncGroup v3": .syncGroup(.init(groupID: "g1", generationID: 1, memberID: "m1", assignments: syncAssignments)),
        "SyncGroup v5": .syncGroup(.init(groupID: "g1", generationID: 1, memberID: "m1", protocolType: "consumer", protocolName: "range", assignments: syncAssignments)),
        "Heartbeat v0": .heartbeat(.init(groupID: "g1", generationID: 1, memberID: "m1")),
        "Heartbeat v4": .heartbeat(.init(groupID: "g1", generationID: 1, memberID: "m1")),
        "LeaveGroup v1": .leaveGroup(.init(groupID: "g1", memberID: "m1")),
        "LeaveGroup v4": .leaveGroup(.init(groupID: "g1", members: [.init(memberID: "m1")])),
        "OffsetCommit v2": .offsetCommit(.init(groupID: "g1", generationID: 1, memberID: "m1", topics: offsetCommitTopics)),
        "OffsetCommit v8": .offsetCommit(.init(groupID: "g1", generationID: 1, memberID: "m1", topics: offsetCommitTopics)),
        "OffsetFetch v1": .offsetFetch(.init(groupID: "g1", topics: [.init(name: "orders", partitionIndexes: [0, 1])])),
        "OffsetFetch v7": .offsetFetch(.init(groupID: "g1", topics: [.init(name: "orders", partitionIndexes: [0, 1])], requireStable: true)),
        "Produce v3": .produce(.init(acks: -1, timeoutMs: 30000, topics: [.init(name: "orders", partitions: [.init(index: 0, records: buffer([1, 2, 3]))])])),
        "Produce v9": .produce(.init(acks: -1, timeoutMs: 30000, topics: [.init(name: "orders", partitions: [.init(index: 0, records: buffer([1, 2, 3]))])])),
    ]
}
