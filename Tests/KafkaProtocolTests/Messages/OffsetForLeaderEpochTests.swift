import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct OffsetForLeaderEpochTests {
    @Test(arguments: versions(.offsetForLeaderEpoch))
    func roundTrip(version: Int16) throws {
        let request = OffsetForLeaderEpochRequest(
            replicaID: version >= 3 ? -2 : OffsetForLeaderEpochRequest.consumerReplicaID,
            topics: [.init(name: "orders", partitions: [.init(partition: 0, currentLeaderEpoch: 5, leaderEpoch: 4)])]
        )
        try expectRequestRoundTrip(request, version: version)
        let response = OffsetForLeaderEpochResponse(
            throttleTimeMs: 3,
            topics: [.init(name: "orders", partitions: [
                .init(partition: 0, leaderEpoch: 4, endOffset: 1000), .init(errorCode: .fencedLeaderEpoch, partition: 1),
            ])]
        )
        try expectResponseRoundTrip(response, version: version)
    }
}
