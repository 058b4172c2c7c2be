import KafkaProtocol
import NIOCore
import SegmentLog
import Testing
@testable import KafkaEndpoint

/// Fetch responses within the endpoint's memory bounds: per response and over all
/// connections, trimmed to what fits but never below one batch.
@Suite struct FetchMemoryTests {
    @Test func theGrantIsTheLeastOfTheRequestTheResponseBoundAndWhatIsLeft() {
        let budget = FetchBudget(perResponse: 1000, inFlight: 5000)
        #expect(budget.grant(requested: 300, inUse: 0) == 300)
        #expect(budget.grant(requested: 50_000, inUse: 0) == 1000)
        #expect(budget.grant(requested: 50_000, inUse: 4500) == 500)
        #expect(budget.grant(requested: 50_000, inUse: 5000) == 0)
        // Past the bound (batches that always go): nothing more, never negative.
        #expect(budget.grant(requested: 50_000, inUse: 7000) == 0)
        #expect(budget.grant(requested: -1, inUse: 0) == 0)
    }

    @Test func reservationsAddUpAndAreGivenBack() {
        let memory = FetchMemory(budget: FetchBudget(perResponse: 1000, inFlight: 1500))
        var first = memory.reserve(requested: 5000)
        let second = memory.reserve(requested: 5000)
        #expect(first.granted == 1000 && second.granted == 500 && memory.inUse == 1500)
        #expect(memory.reserve(requested: 5000).granted == 0)
        // The first response held one large batch more than its grant.
        first.resize(to: 1800)
        #expect(memory.inUse == 2300)
        first.release()
        second.release()
        #expect(memory.inUse == 0)
    }

    /// The size of the first stored batch of a segment: its header says (base offset, then
    /// the length of the rest).
    static func firstBatchSize(_ segment: [UInt8]) -> Int {
        12 + Int(UInt32(segment[8]) << 24 | UInt32(segment[9]) << 16 | UInt32(segment[10]) << 8 | UInt32(segment[11]))
    }

    static func fetch(_ partitions: [(String, Int32)], maxBytes: Int32 = 1 << 20) -> KafkaRequest {
        let topics = Dictionary(grouping: partitions, by: \.0).sorted { $0.key < $1.key }.map { name, entries in
            FetchRequest.Topic(name: name, partitions: entries.map { FetchRequest.Partition(partition: $0.1, fetchOffset: 0, partitionMaxBytes: 1 << 20) })
        }
        return .fetch(FetchRequest(maxWaitMs: 0, minBytes: 0, maxBytes: maxBytes, isolationLevel: .readUncommitted, topics: topics))
    }

    static func records(_ response: FetchResponse, _ topic: String, _ partition: Int32) -> [UInt8] {
        let found = response.responses.first { $0.name == topic }?.partitions.first { $0.partitionIndex == partition }
        return found?.records.map { Array($0.readableBytesView) } ?? []
    }

    @Test func aResponseIsTrimmedToTheBoundButCarriesTheFirstBatch() async throws {
        try await KafkaServerTests.withServer(configure: { $0.maximumFetchResponseBytes = 1 }) { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let segment = try fixture.segmentBytes("orders", 0)
            let response = try client.roundTrip(Self.fetch([("orders", 0), ("orders", 2)]), version: 12, as: FetchResponse.self)
            // One batch of orders-0, whatever the bound; orders-2 waits for the next fetch.
            #expect(Self.records(response, "orders", 0) == Array(segment.prefix(Self.firstBatchSize(segment))))
            #expect(Self.records(response, "orders", 2).isEmpty)
            #expect(response.responses.flatMap(\.partitions).allSatisfy { $0.errorCode == .none })
            try await waitUntil("the response's memory is given back") { fixture.server.fetchBytesInFlight == 0 }
        }
    }

    @Test func whenTheMemoryOfAllConnectionsIsTakenAFetchGetsOneBatch() async throws {
        // Room for less than one batch over all connections: every fetch still progresses.
        try await KafkaServerTests.withServer(configure: { $0.maximumFetchBytesInFlight = 1 }) { fixture in
            let client = try TestKafkaClient(port: fixture.server.port)
            let segment = try fixture.segmentBytes("orders", 0)
            let response = try client.roundTrip(Self.fetch([("customers", 0), ("orders", 0)]), version: 12, as: FetchResponse.self)
            let customers = try fixture.segmentBytes("customers", 0)
            #expect(Self.records(response, "customers", 0) == Array(customers.prefix(Self.firstBatchSize(customers))))
            #expect(Self.records(response, "orders", 0).isEmpty)
            // With the bound lifted by the client's own max_bytes nothing changes: the
            // endpoint's bound is what holds.
            let again = try client.roundTrip(Self.fetch([("orders", 0)], maxBytes: .max), version: 12, as: FetchResponse.self)
            #expect(Self.records(again, "orders", 0) == Array(segment.prefix(Self.firstBatchSize(segment))))
            try await waitUntil("the responses' memory is given back") { fixture.server.fetchBytesInFlight == 0 }
        }
    }
}
