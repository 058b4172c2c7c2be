import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct FindCoordinatorTests {
    @Test(arguments: versions(.findCoordinator))
    func roundTrip(version: Int16) throws {
        let request = version >= 4
            ? FindCoordinatorRequest(keyType: FindCoordinatorRequest.groupKeyType, coordinatorKeys: ["g1", "g2"])
            : FindCoordinatorRequest(key: "g1", keyType: version >= 1 ? FindCoordinatorRequest.transactionKeyType : 0)
        try expectRequestRoundTrip(request, version: version)

        let node = MetadataResponse.Broker(nodeID: 1, host: "127.0.0.1", port: 9092)
        var response = FindCoordinatorResponse(coordinator: node, keys: request.keys, version: version)
        if version >= 1 { response.throttleTimeMs = 2 }
        if (1...3).contains(version) { response.errorMessage = "ok" }
        try expectResponseRoundTrip(response, version: version)
        #expect(version >= 4 ? response.coordinators.map(\.key) == ["g1", "g2"] : response.nodeID == 1)
    }

    @Test(arguments: versions(.findCoordinator))
    func errorResponseRoundTrip(version: Int16) throws {
        let response = version >= 4
            ? FindCoordinatorResponse(coordinators: [.init(key: "g", nodeID: -1, host: "", port: -1, errorCode: .coordinatorNotAvailable, errorMessage: nil)])
            : FindCoordinatorResponse(errorCode: .coordinatorNotAvailable)
        try expectResponseRoundTrip(response, version: version)
    }
}
