import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct FetchTests {
    static func request(version: Int16) -> FetchRequest {
        FetchRequest(
            maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20, isolationLevel: .readCommitted,
            sessionID: version >= 7 ? 17 : 0, sessionEpoch: version >= 7 ? 3 : -1,
            topics: [
                .init(name: "orders", partitions: [
                    .init(
                        partition: 0, currentLeaderEpoch: version >= 9 ? 4 : -1, fetchOffset: 42,
                        lastFetchedEpoch: version >= 12 ? 3 : -1, logStartOffset: version >= 5 ? 0 : -1, partitionMaxBytes: 65536
                    ),
                    .init(partition: 2, fetchOffset: 0, partitionMaxBytes: 65536),
                ])
            ],
            forgottenTopics: version >= 7 ? [.init(topic: "old", partitions: [0, 1])] : [],
            rackID: version >= 11 ? "rack-a" : ""
        )
    }

    static func response(version: Int16) -> FetchResponse {
        FetchResponse(
            throttleTimeMs: 0, errorCode: .none, sessionID: version >= 7 ? 17 : 0,
            responses: [
                .init(name: "orders", partitions: [
                    .init(
                        partitionIndex: 0, highWatermark: 100, lastStableOffset: 90, logStartOffset: version >= 5 ? 10 : -1,
                        abortedTransactions: [.init(producerID: 1000, firstOffset: 60), .init(producerID: 1001, firstOffset: 70)],
                        preferredReadReplica: -1, records: buffer(Array(0..<200))
                    ),
                    .init(partitionIndex: 1, errorCode: .offsetOutOfRange, highWatermark: 5, records: nil),
                    .init(partitionIndex: 2, highWatermark: 0, abortedTransactions: [], records: ByteBuffer()),
                ])
            ]
        )
    }

    @Test(arguments: versions(.fetch))
    func roundTrip(version: Int16) throws {
        try expectRequestRoundTrip(Self.request(version: version), version: version)
        try expectResponseRoundTrip(Self.response(version: version), version: version)
    }

    /// A Fetch v4 request written by hand from the schema.
    @Test func v4RequestGoldenBytes() throws {
        let frame = bytes(hex: """
            0001 0004 0000002a 0001 63  # Fetch v4, correlation id 42, client id "c"
            ffffffff                    # replica id -1: a consumer
            000001f4 00000001           # max wait 500 ms, min bytes 1
            00100000 01                 # max bytes 1 MiB, read_committed
            00000001 0001 74            # topics: 1, "t"
            00000001                    # partitions: 1
            00000003                    # partition 3
            0000000000000064            # fetch offset 100
            00010000                    # partition max bytes 64 KiB
            """)
        let (header, request) = try KafkaRequest.decode(frame: frame)
        #expect(header == RequestHeader(apiKey: .fetch, apiVersion: 4, correlationID: 42, clientID: "c"))
        let expected = FetchRequest(
            maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20, isolationLevel: .readCommitted,
            topics: [.init(name: "t", partitions: [.init(partition: 3, fetchOffset: 100, partitionMaxBytes: 65536)])]
        )
        #expect(request == .fetch(expected))
    }

    /// The records are written as they are, and decoded as a slice of the frame.
    @Test func recordsAreCarriedUnmodified() throws {
        let stored = buffer([0, 0, 0, 0, 0, 0, 0, 7, 0xAB, 0xCD])
        let response = FetchResponse(responses: [.init(name: "t", partitions: [.init(partitionIndex: 0, highWatermark: 8, records: stored)])])
        let encoded = response.encode(version: 12)
        // The last bytes: compact length 11, the records, then three empty tagged-field sections.
        let tail = encoded.getSlice(at: encoded.writerIndex - 14, length: 14)
        #expect(tail.map(hex) == "0b" + hex(stored) + "000000")
        let decoded = try FetchResponse.decode(from: encoded, version: 12)
        #expect(decoded.responses[0].partitions[0].records == stored)
    }
}
