import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct KafkaPythonFixtureTests {
    /// Splits a framed fixture with the frame decoder, as the server will.
    private func frame(_ hex: String) throws -> ByteBuffer {
        var stream = bytes(hex: hex)
        let frame = try KafkaFrameDecoder().nextFrame(from: &stream)
        #expect(stream.readableBytes == 0)
        return try #require(frame)
    }

    @Test(arguments: KafkaPythonFixtures.requests.map(\.name))
    func requestDecodesAndReencodesToTheSameBytes(name: String) throws {
        let fixture = try #require(KafkaPythonFixtures.requests.first { $0.name == name }?.hex)
        let (header, request) = try KafkaRequest.decode(frame: frame(fixture))
        #expect(header.correlationID == 7)
        #expect(header.clientID == "kafka-python")
        #expect(request == KafkaPythonFixtures.expected[name])
        #expect(request.apiKey == header.apiKey)
        // Our encoder writes what kafka-python wrote, byte for byte.
        #expect(hex(request.encodeFrame(header: header)) == fixture)
    }

    @Test func apiVersionsResponses() throws {
        let v3 = ApiVersionsResponse(apiKeys: [
            .init(apiKey: ApiKey.fetch.rawValue, minVersion: 4, maxVersion: 12),
            .init(apiKey: ApiKey.apiVersions.rawValue, minVersion: 0, maxVersion: 3),
        ])
        #expect(hex(KafkaResponseFrame.encode(v3, version: 3, correlationID: 7)) == KafkaPythonFixtures.responses["ApiVersions response v3"])
        let v0 = ApiVersionsResponse(errorCode: .unsupportedVersion, apiKeys: [.init(apiKey: ApiKey.apiVersions.rawValue, minVersion: 0, maxVersion: 3)])
        #expect(hex(KafkaResponseFrame.encode(v0, version: 0, correlationID: 7)) == KafkaPythonFixtures.responses["ApiVersions response v0"])
    }

    @Test(arguments: [Int16(1), 9])
    func metadataResponse(version: Int16) throws {
        let response = MetadataResponse(
            brokers: [.init(nodeID: 1, host: "localhost", port: 9092)], clusterID: "outflow", controllerID: 1,
            topics: [
                .init(name: "orders", partitions: [.init(partitionIndex: 0, leaderID: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1])])
            ]
        )
        let expected = try #require(KafkaPythonFixtures.responses["Metadata response v\(version)"])
        #expect(hex(KafkaResponseFrame.encode(response, version: version, correlationID: 7)) == expected)
        let decoded = try KafkaResponseFrame.decode(MetadataResponse.self, frame: frame(expected), version: version)
        #expect(decoded.header.correlationID == 7)
        // v1 carries neither the cluster id nor leader epochs.
        var carried = response
        if version < 2 { carried.clusterID = nil }
        if version < 7 { carried.topics[0].partitions[0].leaderEpoch = -1 }
        #expect(decoded.response == carried)
    }

    @Test(arguments: [Int16(4), 12])
    func fetchResponse(version: Int16) throws {
        let response = FetchResponse(responses: [
            .init(name: "orders", partitions: [
                .init(
                    partitionIndex: 0, highWatermark: 100, lastStableOffset: 90, logStartOffset: 0,
                    abortedTransactions: [.init(producerID: 7, firstOffset: 50)], records: buffer([0xDE, 0xAD, 0xBE, 0xEF])
                )
            ])
        ])
        let expected = try #require(KafkaPythonFixtures.responses["Fetch response v\(version)"])
        #expect(hex(KafkaResponseFrame.encode(response, version: version, correlationID: 7)) == expected)
        var carried = response
        if version < 5 { carried.responses[0].partitions[0].logStartOffset = -1 }
        #expect(try KafkaResponseFrame.decode(FetchResponse.self, frame: frame(expected), version: version).response == carried)
    }
}
