import PostgresSource
import SegmentLog

/// A pipeline file turned into what runs: live stages wired as the file says, and the
/// settings of the source, the log and the runner.
public struct BuiltPipeline {
    public let config: PipelineConfig
    public let graph: CompiledStageGraph
    public let connectionString: ConnectionString
    public let replication: ReplicationSettings
    /// The log's settings; nil when the sink is Kafka.
    public let logConfig: LogConfig?
    public let runner: PipelineRunner.Settings
    /// Snapshots (initial, and backfills on request): exactly-once pipelines only, as their
    /// progress is part of the checkpoint. nil otherwise.
    public let snapshots: SnapshotCoordinator.Settings?
}

public enum PipelineBuilder {
    public static func build(_ config: PipelineConfig) throws(PipelineError) -> BuiltPipeline {
        let connectionString: ConnectionString
        do { connectionString = try ConnectionString(config.source.url.value) } catch {
            // The URL may be a secret: say what is wrong without it.
            throw PipelineError(.configuration, "source.postgres.url (\(config.source.url.redacted)): \(error.message)")
        }

        var stages: [any Stage] = []
        var wiring: [CompiledStageGraph.Wiring] = []
        var runner = PipelineRunner.Settings(pipelineName: config.name, deadLetterTopic: config.deadLetterTopic)
        for stage in config.stages {
            switch stage.kind {
            case .outbox(let outbox): stages.append(OutboxStage(id: stage.id, config: outbox))
            case .filter(let filter): stages.append(FilterStage(id: stage.id, config: filter))
            case .map(let map): stages.append(MapStage(id: stage.id, config: map))
            case .route(let route): stages.append(RouteStage(id: stage.id, config: route))
            case .key(let key): stages.append(KeyStage(id: stage.id, config: key))
            case .dedupe(let dedupe): stages.append(DedupeStage(id: stage.id, config: dedupe))
            case .order(let order): stages.append(OrderStage(id: stage.id, config: order))
            case .batch(let batch):
                stages.append(BatchStage(id: stage.id, config: batch))
                runner.batchRecords = batch.records
                runner.batchBytes = Int(batch.bytes.bytes)
                runner.groupMaxLatency = batch.linger.duration
            }
            let inputs = config.graph.inputs[stage.id] ?? stage.inputs
            wiring.append(.init(stageID: stage.id, inputs: inputs.map { $0.stage == StageConfig.sourceID ? CompiledStageGraph.sourceInput : $0.description }))
        }
        let graph: CompiledStageGraph
        do { graph = try CompiledStageGraph(stages: stages, wiring: wiring) } catch {
            throw PipelineError(.configuration, "\(error)", underlying: error)
        }

        runner.commitSpacing = config.sink.minCommitInterval.duration
        runner.changelog = config.source.changelog != nil
        runner.guarantee = config.guarantee
        runner.databaseName = connectionString.value(of: "dbname") ?? connectionString.value(of: "user") ?? ""

        var log: LogConfig?
        if let sink = config.sink.log {
            runner.partitions = Int32(sink.partitions)
            var settings = LogConfig()
            settings.compression = sink.compression == .zstd ? .zstd : .none
            if let level = sink.compressionLevel { settings.zstdLevel = Int32(level) }
            settings.segmentBytes = sink.segmentBytes.bytes
            settings.segmentMilliseconds = sink.segmentTime.milliseconds
            settings.retentionMilliseconds = sink.retention?.milliseconds
            settings.retentionBytes = sink.retentionBytes?.bytes
            settings.recompression = sink.recompressionLevel.map { RecompressionSettings(level: Int32($0)) }
            // The changelog keeps source transactions for replay as long as its own settings say,
            // whatever the pipeline's topics keep.
            if let changelog = config.source.changelog {
                settings.topicRetention[ChangelogCodec.topic] = TopicRetention(milliseconds: changelog.retention.milliseconds, bytes: changelog.maxBytes?.bytes)
            }
            log = settings
        }

        var replication = ReplicationSettings(connectionString: connectionString, slot: config.source.slot, publications: [config.source.publication])
        replication.statusInterval = config.source.statusInterval.duration
        replication.heartbeatInterval = config.source.heartbeatInterval?.duration
        // Large transactions stream in while they are still open (spooled to disk until they
        // commit) instead of being spilled and decoded by the server at commit.
        replication.streaming = true
        var snapshots: SnapshotCoordinator.Settings?
        if config.guarantee == .exactlyOnce {
            // Outbox tables are never snapshotted: their old rows are not events.
            let outboxTables = Set(config.stages.compactMap { if case .outbox(let outbox) = $0.kind { outbox.table } else { nil } })
            var settings = SnapshotCoordinator.Settings(slot: config.source.slot, tables: config.source.tables.filter { !outboxTables.contains($0) })
            settings.mode = config.source.snapshot
            settings.chunkSize = config.source.snapshotChunkSize
            settings.readers = config.source.snapshotReaders
            snapshots = settings
        }
        return BuiltPipeline(
            config: config, graph: graph, connectionString: connectionString, replication: replication, logConfig: log, runner: runner,
            snapshots: snapshots)
    }
}
