import Foundation
import PostgresSource
import SegmentLog
import Testing
@testable import Pipeline

@Suite struct PipelineFileTests {
    @Test func theIssueExampleLoadsWithItsDefaults() throws {
        let config = try PipelineFile.load(path: Fixtures.examplePath, environment: Fixtures.environment)
        #expect(config.version == 1)
        #expect(config.name == "orders-outbox")
        #expect(config.source.url.value == "postgres://outflow:s3cr3t-pw@db:5432/shop")
        #expect(config.source.url.isSecret)
        #expect(config.source.slot == "outflow_orders")
        #expect(config.source.publication == "outflow_orders")
        #expect(config.source.tables == [TableName(schema: "public", name: "outbox")])
        // Every table is an outbox table: inserts only, so cleanup deletes are never decoded.
        #expect(config.source.publish == [.insert])
        #expect(config.source.changelog == nil)

        #expect(config.stages.map(\.id) == ["outbox", "dedupe"])
        #expect(config.stages.map(\.inputs) == [[.source], [StageInput(stage: "outbox")]])
        guard case .outbox(let outbox) = config.stages[0].kind, case .dedupe(let dedupe) = config.stages[1].kind else {
            Issue.record("unexpected stage kinds \(config.stages.map(\.kind.type))")
            return
        }
        #expect(outbox.table == TableName(schema: "public", name: "outbox"))
        #expect(outbox.columns == OutboxStageConfig.Columns(
            id: "id", aggregateType: "aggregatetype", aggregateID: "aggregateid", type: "type", payload: "payload"))
        #expect(outbox.topic == (try EventTemplate.parse("outbox.event.${aggregatetype}")))
        #expect(outbox.onUpdate == .warnDrop)
        #expect(outbox.onDelete == .drop)
        #expect(!outbox.tombstoneOnEmptyPayload)
        #expect(dedupe.key == (try EventExpression.parse("id")))
        #expect(dedupe.window.milliseconds == 24 * 3_600_000)
        #expect(dedupe.mode == .exact)
        #expect(dedupe.falsePositiveRate == nil)

        #expect(config.sink.log?.dir == "./data/log")
        #expect(config.sink.log?.partitions == 3)
        #expect(config.sink.log?.compression == .zstd)
        #expect(config.sink.log?.compressionLevel == 3)
        #expect(config.sink.log?.minCommitInterval.milliseconds == 5)
        #expect(config.guarantee == .exactlyOnce)
        #expect(config.deadLetterTopic == "orders-outbox.dead-letter")
        #expect(config.graph.order == ["outbox", "dedupe"])
        #expect(config.graph.sinkInputs == [StageInput(stage: "dedupe")])
        #expect(config.graph.consumers(of: .source) == ["outbox"])
    }

    @Test func everyOptionIsRead() throws {
        let config = try PipelineFile.parse(yaml: Fixtures.full, environment: Fixtures.fullEnvironment)
        #expect(config.name == "shop.events_v2")
        #expect(config.source.url.value == "host=db user=outflow password=correct-horse-battery")
        #expect(config.source.url.redacted == "host=db user=outflow password=${env:PG_PASSWORD}")
        #expect(config.source.publication == "shop_events_pub")
        #expect(config.source.tables.map(\.description) == ["public.outbox", "sales.orders"])
        #expect(config.source.publish == [.insert, .update])
        #expect(!config.source.createMissing)
        #expect(config.source.statusInterval.milliseconds == 5_000)
        #expect(config.source.changelog == ChangelogConfig(retention: ConfigDuration("3d")!, maxBytes: ByteSize("10GiB")!))
        #expect(config.source.changelog?.maxBytes?.bytes == 10 << 30)
        // The changelog's own retention reaches its topic in the log, apart from the sink's.
        let built = try PipelineBuilder.build(config)
        #expect(built.logConfig?.forTopic(ChangelogCodec.topic).retentionMilliseconds == Int64(3 * 86_400_000))
        #expect(built.logConfig?.forTopic(ChangelogCodec.topic).retentionBytes == Int64(10) << 30)
        #expect(built.logConfig?.forTopic("orders").retentionBytes == built.logConfig?.retentionBytes)

        let kinds = Dictionary(uniqueKeysWithValues: config.stages.map { ($0.id, $0.kind) })
        #expect(config.stages.map(\.id) == ["events", "paid", "shape", "split", "big_topic", "small_topic", "rekey", "dedupe", "order", "batch"])
        guard case .outbox(let outbox)? = kinds["events"] else { Issue.record("events"); return }
        #expect(outbox.columns.aggregateType == "kind")
        // The default topic follows the renamed aggregate-type column.
        #expect(outbox.topic == (try EventTemplate.parse("outbox.event.${kind}")))
        #expect(outbox.headers == [.init(column: "tenant_id", header: "tenant")])
        #expect(outbox.onUpdate == .fail && outbox.onDelete == .warnDrop && outbox.tombstoneOnEmptyPayload)

        guard case .map(let map)? = kinds["shape"] else { Issue.record("shape"); return }
        #expect(map.rename == [.init(from: .field(FieldPath(names: "payload", "amt")), to: .field(FieldPath(names: "payload", "amount")))])
        #expect(map.set.map(\.target) == [.field(FieldPath(names: "headers", "source")), .metadata(.key)])
        #expect(map.set.first?.value == (try EventExpression.parse("'outflow'")))
        #expect(map.drop == [.field(FieldPath(names: "payload", "internal"))])

        guard case .route(let split)? = kinds["split"], case .route(let bigTopic)? = kinds["big_topic"],
              case .route(let smallTopic)? = kinds["small_topic"] else { Issue.record("routes"); return }
        #expect(split.outputNames == ["big", "small"])
        #expect(split.unmatched == .fail)
        #expect(bigTopic.routing == .template(try EventTemplate.parse("orders.big.${lower(headers.type)}")))
        #expect(bigTopic.unmatched == .deadLetter)
        #expect(smallTopic.routing == .table(by: try EventExpression.parse("headers.type"), topics: [
            .init(value: "OrderPaid", topic: "orders.paid"), .init(value: "OrderRefunded", topic: "orders.refunded"),
        ]))

        guard case .dedupe(let dedupe)? = kinds["dedupe"], case .order(let order)? = kinds["order"],
              case .batch(let batch)? = kinds["batch"], case .filter(let filter)? = kinds["paid"],
              case .key(let key)? = kinds["rekey"] else { Issue.record("others"); return }
        #expect(filter.condition == (try EventExpression.parse("headers.type in ['OrderPaid', 'OrderRefunded'] and payload.amount > 0")))
        #expect(key.expression == (try EventExpression.parse("payload.customer_id")))
        #expect(dedupe.mode == .bloom && dedupe.falsePositiveRate == 0.01 && dedupe.maxEntries == 5000)
        #expect(dedupe.window.milliseconds == 90 * 60_000)
        #expect(order.mode == .perKey)
        #expect(batch.records == 100 && batch.bytes.bytes == 256 * 1024 && batch.linger.milliseconds == 50)

        #expect(config.sink.log?.compressionLevel == 9)
        #expect(config.sink.log?.segmentBytes.bytes == 64 << 20)
        #expect(config.sink.log?.segmentTime.milliseconds == 3_600_000)
        #expect(config.sink.log?.retention?.milliseconds == Int64(30 * 86_400_000))
        #expect(config.sink.log?.retentionBytes?.bytes == 100_000_000_000)
        #expect(config.sink.log?.minCommitInterval.milliseconds == 20)
        #expect(config.guarantee == .atLeastOnce)
        #expect(config.deadLetterTopic == "shop.failed")

        // Fan-out through the route's outputs and fan-in at rekey.
        #expect(config.stage("big_topic")?.inputs == [StageInput(stage: "split", output: "big")])
        #expect(config.stage("rekey")?.inputs == [StageInput(stage: "big_topic"), StageInput(stage: "small_topic")])
        #expect(config.graph.consumers(of: StageInput(stage: "split", output: "small")) == ["small_topic"])
        #expect(config.graph.sinkInputs == [StageInput(stage: "batch")])
        let topological = config.graph.order
        for stage in config.stages {
            for input in stage.inputs where input != .source {
                #expect(topological.firstIndex(of: input.stage)! < topological.firstIndex(of: stage.id)!, "\(input) before \(stage.id)")
            }
        }
    }

    /// What `explain` prints is itself a pipeline file that loads to the same pipeline: the
    /// resolved rendering loses nothing, and secrets stay references.
    @Test(arguments: ["example", "full"])
    func theResolvedRenderingLoadsToTheSamePipeline(which: String) throws {
        let environment = which == "full" ? Fixtures.fullEnvironment : Fixtures.environment
        let original = which == "full"
            ? try PipelineFile.parse(yaml: Fixtures.full, environment: environment)
            : try PipelineFile.load(path: Fixtures.examplePath, environment: environment)
        let reloaded = try PipelineFile.parse(yaml: original.resolved.redactedYAML, environment: environment)
        #expect(reloaded.source == original.source)
        #expect(reloaded.stages == original.stages.map { stage in
            var stage = stage
            stage.hasExplicitID = true  // the rendering writes every id
            stage.location = reloaded.stage(stage.id)?.location ?? stage.location
            return stage
        })
        #expect(reloaded.graph == original.graph)
        #expect(reloaded.sink == original.sink)
        #expect(reloaded.guarantee == original.guarantee)
        #expect(reloaded.deadLetterTopic == original.deadLetterTopic)
        #expect(reloaded.resolved == original.resolved.withoutDefaultMarks)
    }

    @Test func explainShowsNumbersAsJSONNumbers() throws {
        let config = try PipelineFile.parse(yaml: """
            version: 1
            name: p
            source: {postgres: {url: u, tables: [t]}}
            stages: [{dedupe: {key: id, mode: bloom, false_positive_rate: .5}}]
            sink: {log: {dir: d, segment_bytes: 1_048_576, partitions: 1_0}}
            """, environment: .fixed([:]))
        let json = try JSONSerialization.jsonObject(with: Data(config.resolved.json.rendered().utf8)) as? [String: Any]
        let log = (json?["sink"] as? [String: Any])?["log"] as? [String: Any]
        #expect(log?["segment_bytes"] as? Int == 1_048_576)
        #expect(log?["partitions"] as? Int == 10)
        let dedupe = ((json?["stages"] as? [[String: Any]])?.first?["dedupe"]) as? [String: Any]
        #expect(dedupe?["false_positive_rate"] as? Double == 0.5)
    }

    @Test func generatedIDsAndDefaultInputs() throws {
        let config = try PipelineFile.parse(yaml: """
            version: 1
            name: p
            source: {postgres: {url: "postgres://h/db", tables: [t]}}
            stages:
              - filter: a > 1
              - filter: b > 1
              - id: filter
                key: id
              - batch
              - batch:
            sink: {log: {dir: d, segment_bytes: 1_048_576}}
            """, environment: .fixed([:]))
        #expect(config.stages.map(\.id) == ["filter-1", "filter-2", "filter", "batch-4", "batch-5"])
        #expect(config.stages.map(\.hasExplicitID) == [false, false, true, false, false])
        #expect(config.stages.map { $0.inputs.map(\.description) } == [["source"], ["filter-1"], ["filter-2"], ["filter"], ["batch-4"]])
        #expect(config.source.slot == "outflow_p")
        #expect(config.deadLetterTopic == "p.dead-letter")
        #expect(config.sink.log?.partitions == 1)
        #expect(config.sink.log?.segmentBytes.bytes == 1 << 20)
    }

    @Test func publishDefaultsToEveryOperationWhenATableIsNotAnOutbox() throws {
        let config = try PipelineFile.parse(yaml: """
            version: 1
            name: p
            source: {postgres: {url: "postgres://h/db", tables: [public.outbox, public.customers]}}
            stages:
              - outbox: public.outbox
            sink: {log: {dir: d}}
            """, environment: .fixed([:]))
        #expect(config.source.publish == [.insert, .update, .delete, .truncate])
        let written = try PipelineFile.parse(yaml: """
            version: 1
            name: p
            source: {postgres: {url: "postgres://h/db", tables: [public.outbox], publish: [insert, delete]}}
            stages:
              - outbox: public.outbox
            sink: {log: {dir: d}}
            """, environment: .fixed([:]))
        #expect(written.source.publish == [.insert, .delete])
    }

    /// The public initializers' defaults are the loader's defaults.
    @Test func initializersDefaultAsTheLoaderDoes() throws {
        let config = try PipelineFile.parse(yaml: """
            version: 1
            name: p
            source: {postgres: {url: "postgres://h/db", tables: [public.outbox]}}
            stages:
              - outbox: public.outbox
              - dedupe: {key: id}
              - order
              - batch
            sink: {log: {dir: d}}
            """, environment: .fixed([:]))
        #expect(config.source == PostgresSourceConfig(
            url: SecretString(value: "postgres://h/db", isSecret: false, redacted: "postgres://h/db"), slot: "outflow_p",
            tables: [TableName(schema: "public", name: "outbox")], publish: [.insert]))
        #expect(config.stages.map(\.kind) == [
            .outbox(OutboxStageConfig(table: TableName(schema: "public", name: "outbox"), topic: try OutboxStageConfig.defaultTopic())),
            .dedupe(DedupeStageConfig(key: try EventExpression.parse("id"))),
            .order(OrderStageConfig()),
            .batch(BatchStageConfig()),
        ])
        #expect(config.sink == .log(LogSinkConfig(dir: "d")))
    }

    @Test func aPipelineWithoutStagesWritesTheSourceToTheSink() throws {
        let config = try PipelineFile.parse(yaml: """
            version: 1
            name: raw
            source: {postgres: {url: u, tables: [public.a]}}
            sink: {log: {dir: d}}
            """, environment: .fixed([:]))
        #expect(config.stages.isEmpty)
        #expect(config.graph.sinkInputs == [.source])
    }

    @Test func anchorsAliasesAndMergeKeysWorkAsTheyRun() throws {
        let text = """
            version: 1
            name: merged
            x-defaults: &log_defaults
              partitions: 4
              compression: none
            x-dedupe: &dedupe
              key: id
              window: 1h
            source: {postgres: {url: u, tables: &tables [public.outbox]}}
            stages:
              - outbox: {table: public.outbox}
              - dedupe:
                  <<: *dedupe
                  window: 2h
              - id: again
                dedupe: *dedupe
            sink:
              log:
                <<: *log_defaults
                dir: d
                partitions: 2
            """
        let config = try PipelineFile.parse(yaml: text, environment: .fixed([:]))
        // Keys written beside a merge win over merged ones.
        #expect(config.sink.log?.partitions == 2)
        #expect(config.sink.log?.compression == LogSinkConfig.Compression.none)
        #expect(config.sink.log?.compressionLevel == nil)
        guard case .dedupe(let merged) = config.stages[1].kind, case .dedupe(let aliased) = config.stages[2].kind else {
            Issue.record("not dedupe stages")
            return
        }
        #expect(merged.window.milliseconds == 2 * 3_600_000)
        #expect(aliased.window.milliseconds == 3_600_000)
        #expect(merged.key == aliased.key)
    }

    @Test func anErrorInAnAnchoredBlockIsReportedWhereItIsWritten() {
        let text = """
            version: 1
            name: merged
            x-base: &base
              key: id
              windw: 1h
            source: {postgres: {url: u, tables: [public.outbox]}}
            stages:
              - dedupe:
                  <<: *base
              - id: second
                dedupe: *base
            sink: {log: {dir: d}}
            """
        let diagnostics = Fixtures.diagnostics(text)
        // Once, at the anchor, though two stages use it.
        #expect(diagnostics.map(\.location) == [Fixtures.location(of: "windw", in: text)])
        #expect(diagnostics.map(\.code) == [.unknownKey])
    }

    @Test func aliasBombsAreRefused() {
        var text = "version: 1\nname: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...6 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.contains { $0.code == .tooLarge })
    }

    @Test func fileReferencesAreReadFromTheFilesDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "postgres://reader:from-a-file@db/app\n".write(to: directory.appendingPathComponent("pg.url"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("p.yaml").path
        try """
            version: 1
            name: p
            source: {postgres: {url: "${file:pg.url}", tables: [t]}}
            sink: {log: {dir: d}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try PipelineFile.load(path: path, environment: .process)
        #expect(config.source.url.value == "postgres://reader:from-a-file@db/app")
        #expect(config.source.url.redacted == "${file:pg.url}")
    }

    @Test func aMissingFileIsOneDiagnostic() {
        let error = #expect(throws: PipelineFileError.self) {
            try PipelineFile.load(path: "/nonexistent/outflow/pipeline.yaml", environment: .fixed([:]))
        }
        #expect(error?.diagnostics.map(\.code) == [.unreadableFile])
    }
}
