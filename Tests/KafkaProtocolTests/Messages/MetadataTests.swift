import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct MetadataTests {
    static func request(version: Int16) -> MetadataRequest {
        MetadataRequest(
            topics: [.init(topicID: version >= 10 ? KafkaUUID(high: 1, low: 2) : .zero, name: "orders"), .init(name: "customers")],
            allowAutoTopicCreation: version >= 4 ? false : true,
            includeClusterAuthorizedOperations: (8...10).contains(version),
            includeTopicAuthorizedOperations: version >= 8
        )
    }

    static func response(version: Int16) -> MetadataResponse {
        MetadataResponse(
            throttleTimeMs: version >= 3 ? 10 : 0,
            brokers: [.init(nodeID: 1, host: "127.0.0.1", port: 9092, rack: version >= 1 ? "rack-a" : nil)],
            clusterID: version >= 2 ? "outflow" : nil,
            controllerID: 1,
            topics: [
                .init(
                    name: "orders", topicID: version >= 10 ? KafkaUUID(high: 3, low: 4) : .zero,
                    partitions: (0..<3).map {
                        .init(
                            partitionIndex: $0, leaderID: 1, leaderEpoch: version >= 7 ? 5 : -1, replicaNodes: [1], isrNodes: [1],
                            offlineReplicas: version >= 5 ? [2] : []
                        )
                    },
                    topicAuthorizedOperations: version >= 8 ? 0x0F : MetadataResponse.authorizedOperationsOmitted
                ),
                .init(errorCode: .unknownTopicOrPartition, name: version >= 12 ? nil : "missing", partitions: []),
            ],
            clusterAuthorizedOperations: (8...10).contains(version) ? 0x1F : MetadataResponse.authorizedOperationsOmitted
        )
    }

    @Test(arguments: versions(.metadata))
    func roundTrip(version: Int16) throws {
        try expectRequestRoundTrip(Self.request(version: version), version: version)
        try expectRequestRoundTrip(MetadataRequest(topics: nil), version: version)
        try expectResponseRoundTrip(Self.response(version: version), version: version)
    }

    /// librdkafka 2.x asks for every topic in v9+ with its four-byte count placeholder left zero:
    /// a compact null and three zero bytes before the real fields. Those are read; one or four
    /// extra zeros are still refused (two happen to read as an empty tagged field: valid).
    @Test(arguments: [Int16(9), 10, 11, 12])
    func librdkafkasAllTopicsRequestIsRead(version: Int16) throws {
        // allow_auto_topic_creation true, (v9–10: include_cluster_authorized_operations true),
        // include_topic_authorized_operations false, no tagged fields.
        let fields: [UInt8] = version <= 10 ? [1, 1, 0, 0] : [1, 0, 0]
        let request = try MetadataRequest.decode(from: ByteBuffer(bytes: [0, 0, 0, 0] + fields), version: version)
        #expect(request.topics == nil)
        #expect(request.allowAutoTopicCreation)
        #expect(request.includeClusterAuthorizedOperations == (version <= 10))
        #expect(!request.includeTopicAuthorizedOperations)
        for padding in [1, 4] {
            #expect(throws: KafkaProtocolError.self) {
                try MetadataRequest.decode(from: ByteBuffer(bytes: [0] + [UInt8](repeating: 0, count: padding) + fields), version: version)
            }
        }
    }

    /// A Metadata v1 response written by hand from the schema.
    @Test func v1ResponseGoldenBytes() throws {
        let response = MetadataResponse(
            brokers: [.init(nodeID: 1, host: "h", port: 9092)], controllerID: 1,
            topics: [.init(name: "t", partitions: [.init(partitionIndex: 0, leaderID: 1, replicaNodes: [1], isrNodes: [1])])]
        )
        let expected = bytes(hex: """
            00000001                  # brokers: 1
            00000001 0001 68 00002384 # node 1, host "h", port 9092
            ffff                      # rack: null
            00000001                  # controller id
            00000001                  # topics: 1
            0000 0001 74 00           # no error, name "t", not internal
            00000001                  # partitions: 1
            0000 00000000 00000001    # no error, partition 0, leader 1
            00000001 00000001         # replicas [1]
            00000001 00000001         # isr [1]
            """)
        #expect(response.encode(version: 1) == expected)
        #expect(try MetadataResponse.decode(from: expected, version: 1) == response)
    }

    @Test func nullTopicsAreNotAcceptedWhereTheVersionForbidsThem() throws {
        // Topic name null in v9 (nullable only from v10).
        let body = bytes(hex: "02 00 00 01 00 00")
        let error = protocolError { () throws(KafkaProtocolError) in try MetadataRequest.decode(from: body, version: 9) }
        #expect(error?.code == .unexpectedNull)
        #expect(error?.offset == 1)
    }
}
