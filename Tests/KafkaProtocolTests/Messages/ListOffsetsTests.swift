import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct ListOffsetsTests {
    @Test(arguments: versions(.listOffsets))
    func roundTrip(version: Int16) throws {
        let request = ListOffsetsRequest(
            isolationLevel: version >= 2 ? .readCommitted : .readUncommitted,
            topics: [
                .init(name: "orders", partitions: [
                    .init(partitionIndex: 0, currentLeaderEpoch: version >= 4 ? 2 : -1, timestamp: ListOffsetsRequest.latestTimestamp),
                    .init(partitionIndex: 1, timestamp: 1_700_000_000_000),
                ])
            ]
        )
        try expectRequestRoundTrip(request, version: version)
        let response = ListOffsetsResponse(
            throttleTimeMs: version >= 2 ? 1 : 0,
            topics: [
                .init(name: "orders", partitions: [
                    .init(partitionIndex: 0, timestamp: -1, offset: 1234, leaderEpoch: version >= 4 ? 2 : -1),
                    .init(partitionIndex: 1, errorCode: .offsetNotAvailable),
                ])
            ]
        )
        try expectResponseRoundTrip(response, version: version)
    }

    @Test func anIsolationLevelOtherThanZeroOrOneIsRejected() {
        // replica id, isolation level 2, no topics.
        let body = bytes(hex: "ffffffff 02 00000000")
        let error = protocolError { () throws(KafkaProtocolError) in try ListOffsetsRequest.decode(from: body, version: 2) }
        #expect(error?.code == .invalidValue)
        #expect(error?.offset == 4)
    }
}
