import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct ProduceTests {
    @Test(arguments: versions(.produce))
    func refusalRoundTrip(version: Int16) throws {
        let request = ProduceRequest(
            transactionalID: "tx-1", acks: -1, timeoutMs: 30_000,
            topics: [
                .init(name: "orders", partitions: [.init(index: 0, records: buffer([1, 2, 3])), .init(index: 1, records: nil)]),
                .init(name: "audit", partitions: [.init(index: 4, records: ByteBuffer())]),
            ]
        )
        try expectRequestRoundTrip(request, version: version)

        let refusal = ProduceResponse(
            refusing: request, errorCode: .clusterAuthorizationFailed, errorMessage: version >= 8 ? "read-only endpoint" : nil
        )
        #expect(refusal.responses.map(\.name) == ["orders", "audit"])
        #expect(refusal.responses.flatMap(\.partitions).map(\.index) == [0, 1, 4])
        #expect(refusal.responses.flatMap(\.partitions).allSatisfy { $0.errorCode == .clusterAuthorizationFailed })
        var carried = refusal
        carried.throttleTimeMs = 1
        try expectResponseRoundTrip(carried, version: version)
    }

    /// The response's throttle time comes after the topics, unlike in any other response.
    @Test func throttleTimeIsLast() {
        let response = ProduceResponse(responses: [], throttleTimeMs: 0x0102_0304)
        #expect(hex(response.encode(version: 3)) == "00000000" + "01020304")
    }
}
