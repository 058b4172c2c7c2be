import Foundation
import KafkaProtocol
import MetricsTestKit
import Logging
import NIOCore
import SegmentLog
import Testing
@testable import KafkaEndpoint

/// The endpoint over a log written here, spoken to through the KafkaProtocol codecs.
///
/// The log: `orders` declared with 3 partitions — orders-0: a1 a2 (commit) x (abort) a3
/// (commit); orders-1 never written; orders-2: b1 (commit) then an open transaction (b2).
/// `customers-0`: c1 (commit). `__changelog-0`: s1 (commit), internal.
@Suite struct KafkaServerTests {
    static let t0: Int64 = 1_700_000_000_000

    struct Fixture {
        let directory: TemporaryDirectory
        let writer: LogWriter
        let server: KafkaServer

        func tp(_ topic: String, _ partition: Int32) -> TopicPartition { try! TopicPartition(topic: topic, partition: partition) }

        /// The whole first segment file of a partition: every batch as stored.
        func segmentBytes(_ topic: String, _ partition: Int32) throws -> [UInt8] {
            Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/\(topic)-\(partition)/00000000000000000000.log")))
        }

        func stop() async {
            await server.shutdown()
            writer.close()
            directory.remove()
        }
    }

    static func start(
        maximumConnections: Int = 16, groups: GroupCoordinator.Settings = .init(), configure: (inout KafkaEndpointConfiguration) -> Void = { _ in },
        label: String = #function
    ) async throws -> Fixture {
        let directory = try TemporaryDirectory(label)
        let writer = try LogWriter.open(directory: directory.path)
        let orders0 = try TopicPartition(topic: "orders", partition: 0)
        let orders2 = try TopicPartition(topic: "orders", partition: 2)
        try writer.declareTopic("orders", partitionCount: 3)
        try writer.beginTransaction()
        try writer.append([record("a1", timestamp: t0), record("a2", timestamp: t0 + 1)], to: orders0)
        try writer.append([record("s1", timestamp: t0)], to: TopicPartition(topic: "__changelog", partition: 0))
        try writer.commit(metadata: [])
        try writer.beginTransaction()
        try writer.append([record("x", timestamp: t0 + 2)], to: orders0)
        try writer.abort()
        try writer.beginTransaction()
        try writer.append([record("a3", timestamp: t0 + 3)], to: orders0)
        try writer.append([record("b1", timestamp: t0 + 3)], to: orders2)
        try writer.append([record("c1", timestamp: t0 + 3)], to: TopicPartition(topic: "customers", partition: 0))
        try writer.commit(metadata: [])
        try writer.beginTransaction()
        try writer.append([record("b2", timestamp: t0 + 4)], to: orders2)
        var logger = Logger(label: "outflow.kafka.test")
        logger.logLevel = .info
        var configuration = KafkaEndpointConfiguration(logDirectory: directory.path, port: 0, maximumFrameSize: 1 << 20, maximumConnections: maximumConnections)
        configuration.groups = groups
        configure(&configuration)
        let server = try await KafkaServer.start(configuration, logger: logger)
        return Fixture(directory: directory, writer: writer, server: server)
    }

    /// Runs `body` against a server over the sample log, then stops both (also on failure).
    static func withServer(
        maximumConnections: Int = 16, groups: GroupCoordinator.Settings = .init(), configure: (inout KafkaEndpointConfiguration) -> Void = { _ in },
        label: String = #function, _ body: (Fixture) async throws -> Void
    ) async throws {
        let fixture = try await start(maximumConnections: maximumConnections, groups: groups, configure: configure, label: label)
        do { try await body(fixture) } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }

    func fetchRequest(
        _ topic: String, _ partition: Int32, from offset: Int64, isolation: KafkaProtocol.IsolationLevel, maxWaitMs: Int32 = 0, minBytes: Int32 = 0
    ) -> KafkaRequest {
        .fetch(
            FetchRequest(
                maxWaitMs: maxWaitMs, minBytes: minBytes, isolationLevel: isolation,
                topics: [FetchRequest.Topic(name: topic, partitions: [FetchRequest.Partition(partition: partition, fetchOffset: offset, partitionMaxBytes: 1 << 20)])]))
    }

    func onlyPartition(_ response: FetchResponse) throws -> FetchResponse.Partition {
        guard response.responses.count == 1, response.responses[0].partitions.count == 1 else { throw TestFailure("expected one partition: \(response)") }
        return response.responses[0].partitions[0]
    }

    func recordBytes(_ partition: FetchResponse.Partition) -> [UInt8] {
        partition.records.map { Array($0.readableBytesView) } ?? []
    }

    // MARK: Handshake and metadata

    @Test func apiVersionsAdvertisesWhatIsServedAndAnswersUnknownVersionsInV0() async throws {
        try await Self.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let response = try client.roundTrip(.apiVersions(ApiVersionsRequest(clientSoftwareName: "test", clientSoftwareVersion: "1")), version: 3, as: ApiVersionsResponse.self)
            #expect(response.errorCode == .none)
            let ranges = Dictionary(uniqueKeysWithValues: response.apiKeys.map { ($0.apiKey, $0.minVersion...$0.maxVersion) })
            #expect(ranges[ApiKey.fetch.rawValue] == 4...12)
            #expect(ranges[ApiKey.produce.rawValue]?.contains(3) == true)
            #expect(ranges[ApiKey.joinGroup.rawValue] == 0...7 && ranges[ApiKey.syncGroup.rawValue] == 0...5)
            #expect(ranges[ApiKey.heartbeat.rawValue] == 0...4 && ranges[ApiKey.leaveGroup.rawValue] == 0...4)

            // A version from the future: the header is read, the body is not.
            var frame = ByteBuffer()
            KafkaRequest.unsupported(apiKey: ApiKey.apiVersions.rawValue, version: 99)
                .encodeFrame(header: RequestHeader(apiKey: .apiVersions, apiVersion: 99, correlationID: 7, clientID: "t"), into: &frame)
            try client.send(bytes: frame)
            let refusal = try client.readResponse(ApiVersionsResponse.self, version: 0, correlationID: 7)
            #expect(refusal.errorCode == .unsupportedVersion)
            #expect(refusal.apiKeys.map(\.apiKey) == response.apiKeys.map(\.apiKey))
        }
    }

    @Test(arguments: [Int16(1), 9, 12])
    func metadataListsEveryDeclaredPartitionWithoutGaps(version: Int16) async throws {
        try await Self.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let all = try client.roundTrip(.metadata(MetadataRequest(topics: nil)), version: version, as: MetadataResponse.self)
            #expect(all.brokers == [MetadataResponse.Broker(nodeID: 0, host: "127.0.0.1", port: Int32(fixture.server.port))])
            #expect(all.topics.map(\.name) == ["customers", "orders"])
            let orders = try #require(all.topics.first { $0.name == "orders" })
            // orders-1 has no directory, but the topic was declared with 3 partitions.
            #expect(orders.partitions.map(\.partitionIndex) == [0, 1, 2])
            #expect(orders.partitions.allSatisfy { $0.leaderID == 0 && $0.errorCode == .none })

            let named = try client.roundTrip(
                .metadata(MetadataRequest(topics: [.init(name: "missing"), .init(name: "__changelog")])), version: version, as: MetadataResponse.self)
            #expect(named.topics.map(\.errorCode) == [.unknownTopicOrPartition, .none])
            #expect(named.topics[1].isInternal || version < 1)
        }
    }

    // MARK: Offsets

    @Test func listOffsetsLatestIsTheLastStableOffsetForReadCommitted() async throws {
        try await Self.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            func list(_ partition: Int32, _ timestamp: Int64, _ isolation: KafkaProtocol.IsolationLevel, topic: String = "orders") throws -> ListOffsetsResponse.Partition {
                let request = ListOffsetsRequest(
                    isolationLevel: isolation, topics: [.init(name: topic, partitions: [.init(partitionIndex: partition, timestamp: timestamp)])])
                return try client.roundTrip(.listOffsets(request), version: 7, as: ListOffsetsResponse.self).topics[0].partitions[0]
            }
            // orders-2: b1 at 0, its COMMIT marker at 1, the open transaction's b2 at 2.
            #expect(try list(2, ListOffsetsRequest.latestTimestamp, .readCommitted).offset == 2)
            #expect(try list(2, ListOffsetsRequest.latestTimestamp, .readUncommitted).offset == 3)
            #expect(try list(2, ListOffsetsRequest.earliestTimestamp, .readCommitted).offset == 0)
            // orders-0: a1 0, a2 1, commit 2, x 3, abort 4, a3 5, commit 6.
            #expect(try list(0, ListOffsetsRequest.latestTimestamp, .readCommitted).offset == 7)
            let byTime = try list(0, Self.t0 + 3, .readCommitted)
            #expect(byTime.offset == 5 && byTime.timestamp == Self.t0 + 3)
            #expect(try list(0, Self.t0 + 1000, .readCommitted).offset == -1)
            // Declared but never written, and not there at all.
            #expect(try list(1, ListOffsetsRequest.latestTimestamp, .readCommitted).offset == 0)
            #expect(try list(3, ListOffsetsRequest.latestTimestamp, .readCommitted).errorCode == .unknownTopicOrPartition)
            #expect(try list(0, ListOffsetsRequest.latestTimestamp, .readCommitted, topic: "nope").errorCode == .unknownTopicOrPartition)

            let epochs = try client.roundTrip(
                .offsetForLeaderEpoch(OffsetForLeaderEpochRequest(topics: [.init(name: "orders", partitions: [.init(partition: 2, leaderEpoch: 0)])])),
                version: 4, as: OffsetForLeaderEpochResponse.self)
            #expect(epochs.topics[0].partitions[0] == OffsetForLeaderEpochResponse.Partition(partition: 2, leaderEpoch: 0, endOffset: 3))
        }
    }

    // MARK: Fetch

    @Test(arguments: [Int16(4), 11, 12])
    func fetchServesTheStoredBatchesWithTheAbortedTransactions(version: Int16) async throws {
        try await Self.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let producer = fixture.writer.producer.producerId

            let committed = try onlyPartition(
                client.roundTrip(fetchRequest("orders", 0, from: 0, isolation: .readCommitted), version: version, as: FetchResponse.self))
            #expect(committed.errorCode == .none)
            #expect(committed.highWatermark == 7 && committed.lastStableOffset == 7)
            #expect(recordBytes(committed) == (try fixture.segmentBytes("orders", 0)))
            #expect(committed.abortedTransactions == [FetchResponse.AbortedTransaction(producerID: producer, firstOffset: 3)])

            let uncommitted = try onlyPartition(
                client.roundTrip(fetchRequest("orders", 0, from: 0, isolation: .readUncommitted), version: version, as: FetchResponse.self))
            #expect(recordBytes(uncommitted) == (try fixture.segmentBytes("orders", 0)))
            #expect(uncommitted.abortedTransactions == nil)

            // orders-2: read_committed stops at the open transaction; read_uncommitted includes it.
            let whole = try fixture.segmentBytes("orders", 2)
            let stable = try onlyPartition(client.roundTrip(fetchRequest("orders", 2, from: 0, isolation: .readCommitted), version: version, as: FetchResponse.self))
            #expect(stable.highWatermark == 3 && stable.lastStableOffset == 2)
            #expect(!recordBytes(stable).isEmpty && recordBytes(stable) == Array(whole.prefix(recordBytes(stable).count)))
            #expect(recordBytes(stable).count < whole.count)
            let all = try onlyPartition(client.roundTrip(fetchRequest("orders", 2, from: 0, isolation: .readUncommitted), version: version, as: FetchResponse.self))
            #expect(recordBytes(all) == whole)

            let outOfRange = try onlyPartition(client.roundTrip(fetchRequest("orders", 0, from: 100, isolation: .readCommitted), version: version, as: FetchResponse.self))
            #expect(outOfRange.errorCode == .offsetOutOfRange && outOfRange.highWatermark == 7)
            let unwritten = try onlyPartition(client.roundTrip(fetchRequest("orders", 1, from: 0, isolation: .readCommitted), version: version, as: FetchResponse.self))
            #expect(unwritten.errorCode == .none && unwritten.highWatermark == 0 && recordBytes(unwritten).isEmpty)
            let unknown = try onlyPartition(client.roundTrip(fetchRequest("orders", 7, from: 0, isolation: .readCommitted), version: version, as: FetchResponse.self))
            #expect(unknown.errorCode == .unknownTopicOrPartition)
        }
    }

    @Test func connectionsRequestsAndFetchedRecordsAreCounted() async throws {
        let metrics = TestMetrics()
        try await Self.withServer(configure: { $0.metricsFactory = metrics }) { fixture in
            do {
                let client = try TestKafkaClient(port: fixture.server.port)
                _ = try client.roundTrip(.apiVersions(ApiVersionsRequest(clientSoftwareName: "test", clientSoftwareVersion: "1")), version: 3, as: ApiVersionsResponse.self)
                let fetched = try onlyPartition(client.roundTrip(fetchRequest("orders", 0, from: 0, isolation: .readCommitted), version: 12, as: FetchResponse.self))
                #expect(try metrics.expectCounter("outflow_kafka_connections_accepted_total").totalValue == 1)
                #expect(try metrics.expectGauge("outflow_kafka_connections").lastValue == 1)
                #expect(try metrics.expectCounter("outflow_kafka_requests_total", [("api", "ApiVersions")]).totalValue == 1)
                #expect(try metrics.expectCounter("outflow_kafka_requests_total", [("api", "Fetch")]).totalValue == 1)
                #expect(try metrics.expectCounter("outflow_kafka_fetch_responses_total").totalValue == 1)
                #expect(try metrics.expectCounter("outflow_kafka_fetch_bytes_total").totalValue == Int64(recordBytes(fetched).count))
                // a1, a2, the aborted x, a3: the stored data batches' records, markers not counted.
                #expect(try metrics.expectCounter("outflow_kafka_fetch_records_total").totalValue == 4)
            }
            // The client is gone (its socket closed): the open count follows, bounded by a deadline.
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while try metrics.expectGauge("outflow_kafka_connections").lastValue != 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))  // polling for the close to be seen, bounded by the deadline
            }
            #expect(try metrics.expectGauge("outflow_kafka_connections").lastValue == 0)
        }
    }

    @Test func aWaitingFetchIsAnsweredWhenACommitLands() async throws {
        try await Self.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let maxWait = Duration.seconds(60)
            // customers-0 holds c1 and its marker: offset 2 is the end.
            let correlationID = try client.send(
                fetchRequest("customers", 0, from: 2, isolation: .readCommitted, maxWaitMs: Int32(maxWait.components.seconds * 1000), minBytes: 1), version: 12)
            // Commit only once the fetch is waiting, so that the commit is what answers it.
            try await waitUntil("the fetch waits") { fixture.server.waitingFetches == 1 }
            // Into the transaction the fixture left open, then commit it.
            try fixture.writer.append([record("c2", timestamp: Self.t0 + 10)], to: fixture.tp("customers", 0))
            try fixture.writer.commit(metadata: [])
            // Timed from the commit: on a loaded machine (the whole suite on two cores) getting
            // the fetch to wait can take seconds, which says nothing of the wake. Unwoken, the
            // answer would come at the fetch's deadline, most of a minute after the commit.
            let committed = ContinuousClock.now
            let answer = try onlyPartition(client.readResponse(FetchResponse.self, version: 12, correlationID: correlationID))
            let elapsed = ContinuousClock.now - committed
            #expect(answer.errorCode == .none)
            #expect(!recordBytes(answer).isEmpty)
            #expect(elapsed < maxWait / 3, "answered \(elapsed) after the commit")
        }
    }

    @Test func aFetchWithNothingNewAnswersEmptyAtItsDeadline() async throws {
        try await Self.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let started = ContinuousClock.now
            let answer = try onlyPartition(
                client.roundTrip(fetchRequest("customers", 0, from: 2, isolation: .readCommitted, maxWaitMs: 300, minBytes: 1), version: 12, as: FetchResponse.self))
            #expect(ContinuousClock.now - started >= .milliseconds(300))
            #expect(answer.errorCode == .none && recordBytes(answer).isEmpty && answer.highWatermark == 2)
        }
    }

    // MARK: Refusals and limits

    @Test func produceIsRefusedForEveryPartition() async throws {
        try await Self.withServer { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let request = ProduceRequest(
                acks: -1, timeoutMs: 1000, topics: [.init(name: "orders", partitions: [.init(index: 0, records: nil), .init(index: 1, records: nil)])])
            let response = try client.roundTrip(.produce(request), version: 9, as: ProduceResponse.self)
            #expect(response.responses[0].partitions.map(\.errorCode) == [.topicAuthorizationFailed, .topicAuthorizationFailed])
            // The log is untouched.
            #expect(try LogReader(directory: fixture.directory.path).open(fixture.tp("orders", 0)).endOffset() == 7)
        }
    }

    @Test(arguments: [
        // A header cut short inside the client id.
        [0, 0, 0, 10, 0, 18, 0, 3, 0, 0, 0, 1, 0, 40] as [UInt8],
        // A negative size.
        [0xFF, 0xFF, 0xFF, 0xF0, 0, 18],
        // A size above the server's maximum frame (1 MiB here).
        [0x10, 0, 0, 0, 0, 18],
    ])
    func aMalformedFrameClosesOnlyItsConnection(frame: [UInt8]) async throws {
        try await Self.withServer { fixture in
            let bad = try TestKafkaClient(port: fixture.server.port)
            let good = try TestKafkaClient(port: fixture.server.port)
            try bad.send(bytes: ByteBuffer(bytes: frame))
            #expect(try bad.readFrame() == nil)
            let response = try good.roundTrip(.apiVersions(ApiVersionsRequest()), version: 3, as: ApiVersionsResponse.self)
            #expect(response.errorCode == .none)
            let another = try TestKafkaClient(port: fixture.server.port)
            #expect(try another.roundTrip(.metadata(MetadataRequest(topics: nil)), version: 12, as: MetadataResponse.self).topics.count == 2)
        }
    }

    @Test func connectionsBeyondTheMaximumAreClosed() async throws {
        try await Self.withServer(maximumConnections: 1) { fixture in
            let first = try TestKafkaClient(port: fixture.server.port)
            #expect(try first.roundTrip(.apiVersions(ApiVersionsRequest()), version: 3, as: ApiVersionsResponse.self).errorCode == .none)
            let second = try TestKafkaClient(port: fixture.server.port)
            try second.send(.apiVersions(ApiVersionsRequest()), version: 3)
            #expect(try second.readFrame() == nil)
            #expect(try first.roundTrip(.apiVersions(ApiVersionsRequest()), version: 3, as: ApiVersionsResponse.self).errorCode == .none)
        }
    }
}

/// Waits for `condition` to hold, checking after each short pause, and fails after 10 s: for
/// state another thread reaches (not a sleep standing in for it).
func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// SplitMix64: a deterministic generator so a failing mutation can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct MutatedRequestTests {
    /// Valid requests with bytes of their body changed (the size prefix kept, so each is one
    /// frame): every one is answered or closes its connection, and the server keeps serving.
    @Test func mutatedRequestsAreAnsweredOrCloseTheirConnection() async throws {
        try await KafkaServerTests.withServer { fixture in
            let requests: [(KafkaRequest, Int16)] = [
                (.apiVersions(ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1")), 3),
                (.metadata(MetadataRequest(topics: [.init(name: "orders")])), 12),
                (.listOffsets(ListOffsetsRequest(isolationLevel: .readCommitted, topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, timestamp: -1)])])), 7),
                (.fetch(FetchRequest(maxWaitMs: 0, minBytes: 0, isolationLevel: .readCommitted, topics: [.init(name: "orders", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 16)])])), 12),
                (.offsetFetch(OffsetFetchRequest(groupID: "billing", topics: nil)), 7),
            ]
            for seed in UInt64(1)...60 {
                var random = SeededGenerator(seed: seed)
                let (request, version) = requests[Int(seed) % requests.count]
                let header = RequestHeader(apiKey: request.apiKey!, apiVersion: version, correlationID: 1, clientID: "mutant")
                var bytes = Array(request.encodeFrame(header: header).readableBytesView)
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    // Not the size prefix: a wrong size is a different (tested) case.
                    bytes[Int.random(in: 4..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
                let client = try TestKafkaClient(port: fixture.server.port)
                try client.send(bytes: ByteBuffer(bytes: bytes))
                // An answer or a close; a hang fails through the client's read timeout.
                if let frame = try client.readFrame() {
                    #expect(frame.readableBytes >= 4, "seed \(seed)")
                }
            }
            let client = try TestKafkaClient(port: fixture.server.port)
            #expect(try client.roundTrip(.apiVersions(ApiVersionsRequest()), version: 3, as: ApiVersionsResponse.self).errorCode == .none)
        }
    }
}
