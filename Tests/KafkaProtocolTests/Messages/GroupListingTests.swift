import NIOCore
import Testing

@testable import KafkaProtocol

/// ListGroups and DescribeGroups.
@Suite struct GroupListingTests {
    @Test(arguments: versions(.listGroups))
    func listGroupsRoundTrip(version: Int16) throws {
        try expectRequestRoundTrip(ListGroupsRequest(statesFilter: version >= 4 ? ["Stable", "Empty"] : []), version: version)
        let response = ListGroupsResponse(
            throttleTimeMs: version >= 1 ? 1 : 0,
            groups: [.init(groupID: "g1", protocolType: "consumer", groupState: version >= 4 ? "Stable" : ""), .init(groupID: "g2", protocolType: "")]
        )
        try expectResponseRoundTrip(response, version: version)
    }

    @Test(arguments: versions(.describeGroups))
    func describeGroupsRoundTrip(version: Int16) throws {
        try expectRequestRoundTrip(DescribeGroupsRequest(groups: ["g1", "g2"], includeAuthorizedOperations: version >= 3), version: version)
        let response = DescribeGroupsResponse(
            throttleTimeMs: version >= 1 ? 1 : 0,
            groups: [
                .init(
                    groupID: "g1", groupState: "Stable", protocolType: "consumer", protocolData: "range",
                    members: [
                        .init(
                            memberID: "m1", groupInstanceID: version >= 4 ? "instance-1" : nil, clientID: "rdkafka", clientHost: "/127.0.0.1",
                            memberMetadata: buffer([0, 1]), memberAssignment: buffer([0, 2])
                        )
                    ],
                    authorizedOperations: version >= 3 ? 0xFF : MetadataResponse.authorizedOperationsOmitted
                ),
                .init(errorCode: .groupIDNotFound, groupID: "g2", groupState: "Dead", protocolType: "", protocolData: "", members: []),
            ]
        )
        try expectResponseRoundTrip(response, version: version)
    }
}
