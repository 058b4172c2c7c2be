import Foundation
import SegmentLog
import Testing

/// `outflow status`: the log and the slot as they are, as text or one JSON document.
@Suite struct StatusCommandTests {
    typealias Scenario = RunCommandTests.Scenario

    struct Status: Decodable {
        struct Partition: Decodable { var topic: String; var partition: Int32; var endOffset: Int64; var lastStableOffset: Int64; var openTransaction: Bool }
        struct Group: Decodable { var group: String; var topic: String; var partition: Int32; var committedOffset: Int64; var lag: Int64 }
        struct Slot: Decodable { var name: String; var exists: Bool; var active: Bool?; var confirmedFlushLSN: String?; var lagBytes: Int64?; var retainedWALBytes: Int64?; var walStatus: String? }
        var durablePosition: String?
        var partitions: [Partition]
        var groups: [Group]
        var slot: Slot?
        struct Dedupe: Decodable { var stage: String; var keys: Int64; var buckets: Int }
        var dedupe: [Dedupe]?
    }

    @Test func statusAgreesWithTheLogAndTheSlot() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        let (process, _) = try scenario.start()
        for index in 0..<4 {
            try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 's-\(index)', 'Created', '{}')")
        }
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while try scenario.committedKeys().count < 4, ContinuousClock.now < deadline { usleep(50_000) }  // bounded poll of the log
        process.terminate()
        process.waitUntilExit()

        // A consumer group that has read one record of the first partition.
        let reader = try LogReader(directory: scenario.logDirectory)
        let first = try #require(try reader.partitions().first { $0.topic == "outbox.event.order" })
        try ConsumerGroups(logDirectory: scenario.logDirectory).commit(group: "billing", offsets: [first: 1])

        let result = try OutflowProcess.run(
            ["status", scenario.pipelineFile.path, "--json"], environment: ["OUTFLOW_PG_URL": scenario.url], currentDirectory: scenario.directory)
        #expect(result.status == 0, "\(result.standardError)")
        let status = try JSONDecoder().decode(Status.self, from: Data(result.standardOutput.utf8))

        for partition in status.partitions {
            let offsets = try reader.open(try TopicPartition(topic: partition.topic, partition: partition.partition), isolation: .readCommitted).offsets()
            #expect(partition.endOffset == offsets.endOffset)
            #expect(partition.lastStableOffset == offsets.lastStableOffset)
            #expect(!partition.openTransaction)
        }
        #expect(Set(status.partitions.map(\.topic)) == ["outbox.event.order"])
        let group = try #require(status.groups.first)
        let firstOffsets = try reader.open(first, isolation: .readCommitted).offsets()
        #expect(group.group == "billing" && group.committedOffset == 1 && group.lag == firstOffsets.lastStableOffset - 1)

        let slot = try #require(status.slot)
        #expect(slot.exists && slot.active == false)
        #expect(slot.confirmedFlushLSN == (try scenario.query("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'run_slot_\(scenario.suffix)'")))
        #expect((slot.lagBytes ?? -1) >= 0 && (slot.retainedWALBytes ?? -1) >= 0)
        #expect(slot.walStatus == "reserved")
        // What the log holds durable is what the slot was told, or behind it (a keepalive's end).
        #expect(status.durablePosition != nil)
        // The pipeline's dedupe stage (key id) remembers the four events' ids.
        let dedupe = try #require(status.dedupe?.first)
        #expect(dedupe.stage == "dedupe" && dedupe.keys == 4 && dedupe.buckets == 0)

        let text = try OutflowProcess.run(["status", "--log", scenario.logDirectory])
        #expect(text.status == 0)
        #expect(text.standardOutput.contains("durable source position: \(status.durablePosition ?? "?")"))
        #expect(text.standardOutput.contains("group billing"))
        #expect(text.standardOutput.contains("dedupe dedupe: 4 keys"))
    }

    @Test func statusNeedsAFileOrALog() throws {
        let result = try OutflowProcess.run(["status"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("give a pipeline file or --log DIR"))
    }
}
