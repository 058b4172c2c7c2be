import KafkaProtocol
import SegmentLog
import Testing
@testable import KafkaEndpoint

/// Committed offsets through the endpoint land in the same files `outflow tail --group` reads.
@Suite struct GroupOffsetsTests {
    @Test(arguments: [Int16(3), 4])
    func theEndpointCoordinatesEveryGroup(version: Int16) async throws {
        try await KafkaServerTests.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let response = try client.roundTrip(.findCoordinator(FindCoordinatorRequest(key: "billing", coordinatorKeys: version >= 4 ? ["billing"] : [])), version: version, as: FindCoordinatorResponse.self)
            if version >= 4 {
                #expect(response.coordinators.map(\.nodeID) == [0])
                #expect(response.coordinators.map(\.port) == [Int32(fixture.server.port)])
            } else {
                #expect(response.errorCode == .none && response.nodeID == 0 && response.port == Int32(fixture.server.port))
            }
        }
    }

    @Test func committedOffsetsAreTheLogsGroupOffsets() async throws {
        try await KafkaServerTests.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let commit = OffsetCommitRequest(
                groupID: "billing",
                topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, committedOffset: 5), .init(partitionIndex: 9, committedOffset: 1)])])
            let committed = try client.roundTrip(.offsetCommit(commit), version: 8, as: OffsetCommitResponse.self)
            #expect(committed.topics[0].partitions.map(\.errorCode) == [.none, .unknownTopicOrPartition])
            #expect(try ConsumerGroups(logDirectory: fixture.directory.path).committedOffsets(group: "billing") == [fixture.tp("orders", 0): 5])

            // A member's commit (it names a generation) is from a group this endpoint never formed.
            var member = commit
            member.generationID = 3
            member.memberID = "consumer-1"
            let refused = try client.roundTrip(.offsetCommit(member), version: 8, as: OffsetCommitResponse.self)
            #expect(refused.topics[0].partitions.map(\.errorCode) == [.unknownMemberID, .unknownMemberID])

            let named = try client.roundTrip(
                .offsetFetch(OffsetFetchRequest(groupID: "billing", topics: [.init(name: "orders", partitionIndexes: [0, 2])])), version: 7,
                as: OffsetFetchResponse.self)
            #expect(named.topics[0].partitions.map(\.committedOffset) == [5, -1])
            let all = try client.roundTrip(.offsetFetch(OffsetFetchRequest(groupID: "billing", topics: nil)), version: 7, as: OffsetFetchResponse.self)
            #expect(all.topics.map(\.name) == ["orders"] && all.topics[0].partitions.map(\.committedOffset) == [5])

            let listed = try client.roundTrip(.listGroups(ListGroupsRequest()), version: 4, as: ListGroupsResponse.self)
            #expect(listed.groups == [ListGroupsResponse.Group(groupID: "billing", protocolType: "consumer", groupState: "Empty")])
            let described = try client.roundTrip(.describeGroups(DescribeGroupsRequest(groups: ["billing", "nobody"])), version: 5, as: DescribeGroupsResponse.self)
            #expect(described.groups.map(\.groupState) == ["Empty", "Dead"])
        }
    }
}
