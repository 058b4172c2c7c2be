import NIOCore
import Testing

@testable import KafkaProtocol

@Suite struct ApiVersionsTests {
    @Test(arguments: versions(.apiVersions))
    func roundTrip(version: Int16) throws {
        let request = version >= 3 ? ApiVersionsRequest(clientSoftwareName: "librdkafka", clientSoftwareVersion: "2.0.2") : ApiVersionsRequest()
        try expectRequestRoundTrip(request, version: version)
        try expectResponseRoundTrip(ApiVersionsResponse(apiKeys: ApiVersionsResponse.supportedRanges, throttleTimeMs: version >= 1 ? 5 : 0), version: version)
    }

    /// An ApiVersions v3 request as librdkafka sends it, written by hand from the schemas.
    @Test func librdkafkaRequestGoldenBytes() throws {
        let frame = bytes(hex: """
            0012 0003 00000001        # api key 18, version 3, correlation id 1
            0007 72646b61666b61       # client id "rdkafka": Int16 length even in header v2
            00                        # header tagged fields: none
            0b 6c69627264 6b61666b61  # client software name "librdkafka": compact, length + 1
            06 322e302e32             # client software version "2.0.2"
            00                        # body tagged fields: none
            """)
        let (header, request) = try KafkaRequest.decode(frame: frame)
        #expect(header == RequestHeader(apiKey: .apiVersions, apiVersion: 3, correlationID: 1, clientID: "rdkafka"))
        #expect(header.headerVersion == 2)
        #expect(request == .apiVersions(ApiVersionsRequest(clientSoftwareName: "librdkafka", clientSoftwareVersion: "2.0.2")))
    }

    /// The v3 response keeps header v0 (no tagged fields after the correlation id) but its body
    /// is flexible.
    @Test func responseGoldenBytes() throws {
        let response = ApiVersionsResponse(apiKeys: [.init(apiKey: 1, minVersion: 4, maxVersion: 12)])
        let expected = bytes(hex: """
            00000013                  # size 19
            00000001                  # correlation id; no header tagged fields
            0000                      # error code
            02 0001 0004 000c 00      # one api key (compact count 1 + 1): fetch 4...12, no tags
            00000000                  # throttle time
            00                        # body tagged fields: none
            """)
        #expect(KafkaResponseFrame.encode(response, version: 3, correlationID: 1) == expected)
    }

    /// Versions the endpoint does not implement are answered in the v0 format, with the ranges.
    @Test func unsupportedVersionIsAnsweredInVersionZero() throws {
        let header = RequestHeader(apiKey: .apiVersions, apiVersion: 4, correlationID: 3, clientID: "new-client")
        // A v4 request: header v2 and a body this module does not read.
        var frame = ByteBuffer()
        header.encode(into: &frame)
        frame.writeBytes([0x05, 0x61, 0x62, 0x63, 0x64, 0x01, 0x00])
        let (decodedHeader, request) = try KafkaRequest.decode(frame: frame)
        #expect(decodedHeader == header)
        #expect(request == .unsupported(apiKey: 18, version: 4))

        let answer = KafkaResponseFrame.encode(ApiVersionsResponse.unsupportedVersion, version: 0, correlationID: 3)
        var reader = KafkaReader(answer, messageName: "test", flexible: false)
        #expect(try reader.readInteger("size", as: Int32.self) == Int32(answer.readableBytes - 4))
        #expect(try reader.readInteger("correlation id", as: Int32.self) == 3)
        #expect(try reader.readErrorCode() == .unsupportedVersion)
        let listed = try reader.readArray("api keys", of: ApiVersionsResponse.ApiVersionRange.self, version: 0)
        try reader.expectEnd()
        #expect(listed.first { $0.apiKey == ApiKey.apiVersions.rawValue } == .init(apiKey: 18, minVersion: 0, maxVersion: 3))
        #expect(listed.count == ApiKey.allCases.count)
    }

    /// librdkafka uses record batch v2 only if Produce v3+ and Fetch v4+ are both advertised.
    @Test func advertisedRangesLetLibrdkafkaUseRecordBatchV2() {
        let ranges = Dictionary(uniqueKeysWithValues: ApiVersionsResponse.supportedRanges.map { ($0.apiKey, $0) })
        #expect(ranges[ApiKey.produce.rawValue].map { $0.minVersion <= 3 && $0.maxVersion >= 3 } == true)
        #expect(ranges[ApiKey.fetch.rawValue].map { $0.maxVersion >= 4 } == true)
        #expect(ranges.values.allSatisfy { $0.minVersion <= $0.maxVersion })
    }
}
