import NIOCore
import Testing

@testable import KafkaProtocol

/// OffsetCommit and OffsetFetch.
@Suite struct GroupOffsetsTests {
    @Test(arguments: versions(.offsetCommit))
    func offsetCommitRoundTrip(version: Int16) throws {
        let request = OffsetCommitRequest(
            groupID: "g1", generationID: 3, memberID: "m1", groupInstanceID: version >= 7 ? "instance-1" : nil,
            retentionTimeMs: version <= 4 ? 86_400_000 : -1,
            topics: [.init(name: "orders", partitions: [
                .init(partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: version >= 6 ? 2 : -1, committedMetadata: "m"),
                .init(partitionIndex: 1, committedOffset: 7, committedMetadata: nil),
            ])]
        )
        try expectRequestRoundTrip(request, version: version)
        let response = OffsetCommitResponse(
            throttleTimeMs: version >= 3 ? 1 : 0,
            topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0), .init(partitionIndex: 1, errorCode: .illegalGeneration)])]
        )
        try expectResponseRoundTrip(response, version: version)
    }

    @Test(arguments: versions(.offsetFetch))
    func offsetFetchRoundTrip(version: Int16) throws {
        let request = OffsetFetchRequest(
            groupID: "g1", topics: [.init(name: "orders", partitionIndexes: [0, 1, 2])], requireStable: version >= 7
        )
        try expectRequestRoundTrip(request, version: version)
        if version >= 2 { try expectRequestRoundTrip(OffsetFetchRequest(groupID: "g1", topics: nil), version: version) }
        let response = OffsetFetchResponse(
            throttleTimeMs: version >= 3 ? 1 : 0,
            topics: [.init(name: "orders", partitions: [
                .init(partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: version >= 5 ? 2 : -1, metadata: ""),
                .init(partitionIndex: 1, committedOffset: -1, metadata: nil),
            ])],
            errorCode: version >= 2 ? .coordinatorLoadInProgress : .none
        )
        try expectResponseRoundTrip(response, version: version)
    }

    @Test func nullTopicsBeforeVersionTwoAreRejected() {
        // group "g", topics null: "all topics" exists only from v2.
        let body = bytes(hex: "0001 67 ffffffff")
        let error = protocolError { () throws(KafkaProtocolError) in try OffsetFetchRequest.decode(from: body, version: 1) }
        #expect(error?.code == .unexpectedNull)
        #expect(throws: Never.self) { try OffsetFetchRequest.decode(from: body, version: 2) }
    }
}
