import Foundation
import SegmentLog
import Testing

/// `sink.kafka` end to end: `outflow run` against the sandbox PostgreSQL, writing into
/// librdkafka's mock cluster running in a process of its own (`outflow-mock-kafka`), read back by
/// an independent consumer (kafka-python, read_committed). What the mock cannot show is in
/// docs/kafka-sink.md: it writes no transaction markers, so its read_committed readers also see
/// the records of aborted transactions.
///
/// The first test runs three brokers (partitions led by different brokers, the transaction
/// coordinator on one of them); the others one, so that an injected error meets the request it
/// is meant for.
@Suite(.serialized) struct KafkaSinkTests {
    /// The mock cluster helper: its bootstrap address, and commands on its standard input.
    final class MockCluster {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        private(set) var bootstrap = ""

        init(_ arguments: [String]) throws {
            let binary = try OutflowProcess.binary().deletingLastPathComponent().appendingPathComponent("outflow-mock-kafka")
            process.executableURL = binary
            process.arguments = arguments
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            bootstrap = try readLine()
            try #require(bootstrap.contains(":"), "outflow-mock-kafka printed no bootstrap address")
        }

        /// One line of the helper's output (it answers each command with one).
        func readLine() throws -> String {
            var line: [UInt8] = []
            while true {
                let byte = try output.fileHandleForReading.read(upToCount: 1) ?? Data()
                guard let first = byte.first else { throw MissingTestPrerequisite(description: "outflow-mock-kafka exited") }
                if first == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
                line.append(first)
            }
        }

        func command(_ text: String) throws {
            input.fileHandleForWriting.write(Data((text + "\n").utf8))
            let answer = try readLine()
            #expect(answer == "ok", "mock cluster: \(text): \(answer)")
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    struct Setup {
        let scenario: RunCommandTests.Scenario
        let mock: MockCluster
        let python: String
        var kafkaFile: URL { scenario.directory.appendingPathComponent("kafka.yaml") }
        var kafkaSlot: String { "run_slot_\(scenario.suffix)_k" }

        init(brokers: Int, lingerMilliseconds: Int = 2, checkpointPartitions: Int? = 1, sinkLines: String = "") throws {
            guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
                throw MissingTestPrerequisite(description: "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates")
            }
            self.python = python
            scenario = try RunCommandTests.Scenario()
            mock = try MockCluster(
                ["--brokers", "\(brokers)", "--topic", "outbox.event.order:3"] + (checkpointPartitions.map { ["--topic", "__outflow_checkpoints:\($0)"] } ?? []))
            // The same pipeline; only the sink block (and the slot) differ.
            let logFile = try String(contentsOf: scenario.pipelineFile, encoding: .utf8)
            let sinkStart = try #require(logFile.range(of: "sink:\n"))
            let sinkEnd = try #require(logFile.range(of: "guarantee:"))
            let kafka = logFile.replacingCharacters(in: sinkStart.lowerBound..<sinkEnd.lowerBound, with: """
                sink:
                  kafka:
                    bootstrap_servers: '\(mock.bootstrap)'
                    min_commit_interval: 20ms
                    producer: {linger.ms: '\(lingerMilliseconds)'}
                \(sinkLines.isEmpty ? "" : "    " + sinkLines + "\n")
                """).replacingOccurrences(of: "slot: run_slot_\(scenario.suffix)", with: "slot: \(kafkaSlot)")
            try kafka.write(to: kafkaFile, atomically: true, encoding: .utf8)
        }

        func cleanUp() {
            _ = try? scenario.psql("SELECT pg_drop_replication_slot('\(kafkaSlot)')", mustSucceed: false)
            scenario.cleanUp()
            mock.stop()
        }

        /// Starts `outflow run FILE` and waits until it streams.
        func start(_ file: URL, _ extraArguments: [String] = []) throws -> (Process, URL) {
            let errorFile = scenario.directory.appendingPathComponent("stderr-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
            let process = Process()
            process.executableURL = try OutflowProcess.binary()
            process.arguments = ["run", file.path, "--progress-interval", "0"] + extraArguments
            process.environment = ProcessInfo.processInfo.environment.merging(["OUTFLOW_PG_URL": scenario.url]) { $1 }
            process.currentDirectoryURL = scenario.directory
            process.standardError = try FileHandle(forWritingTo: errorFile)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let deadline = ContinuousClock.now.advanced(by: .seconds(60))
            while !(try String(contentsOf: errorFile, encoding: .utf8)).contains("resuming after") {
                guard process.isRunning, ContinuousClock.now < deadline else {
                    throw MissingTestPrerequisite(description: "outflow run did not start: \(KafkaSinkTests.text(errorFile))")
                }
                usleep(20_000)  // polling a file for a condition, bounded by the deadline
            }
            return (process, errorFile)
        }

        /// Runs `outflow run FILE --until-lsn` the server's current position: everything
        /// committed so far reaches the sink, then it exits.
        func drain(_ file: URL) throws -> OutflowProcess.Result {
            let lsn = try scenario.query("SELECT pg_current_wal_lsn()")
            let result = try OutflowProcess.run(
                ["run", file.path, "--progress-interval", "0", "--until-lsn", lsn], environment: ["OUTFLOW_PG_URL": scenario.url],
                currentDirectory: scenario.directory)
            #expect(result.status == 0, "outflow run --until-lsn: \(result.standardError)")
            return result
        }

        struct Consumed: Decodable, Equatable {
            var key: String?
            var value: String?
            var headers: [[String?]]
        }

        /// Per partition, what kafka-python reads read_committed from the mock cluster.
        func consumeKafka() throws -> [String: [Consumed]] {
            let script = OutflowProcess.sourceRoot.appendingPathComponent("Tests/Oracle/consume_kafka.py").path
            let result = try OutflowProcess.run(executable: URL(fileURLWithPath: python), [script, mock.bootstrap, "outbox.event.order"])
            try #require(result.status == 0, "kafka-python failed: \(result.standardError)")
            return try JSONDecoder().decode([String: [Consumed]].self, from: Data(result.standardOutput.utf8))
        }

        /// Per partition, what the log sink committed, in the same shape.
        func consumeLog() throws -> [String: [Consumed]] {
            let reader = try LogReader(directory: scenario.logDirectory)
            var result: [String: [Consumed]] = [:]
            for partition in try reader.partitions() where partition.topic == "outbox.event.order" {
                let partitionReader = try reader.open(partition, isolation: .readCommitted)
                var records: [Consumed] = []
                while true {
                    let batch = try partitionReader.poll(maxRecords: 1000)
                    if batch.isEmpty { break }
                    records += batch.map { record in
                        Consumed(
                            key: record.key.map { String(decoding: $0, as: UTF8.self) }, value: record.value.map { String(decoding: $0, as: UTF8.self) },
                            headers: record.headers.map { [$0.key, $0.value.map { String(decoding: $0, as: UTF8.self) }] })
                    }
                }
                result[String(partition.partition)] = records
            }
            return result
        }

        func insert(key: String, n: Int, id: String = "gen_random_uuid()") throws {
            try scenario.psql("INSERT INTO \(scenario.table) VALUES (\(id), 'order', '\(key)', 'Created', '{\"n\": \(n)}')")
        }

        /// The Kafka pipeline's slot confirmed a position past `lsn`.
        func confirmed(after lsn: String) throws -> Bool {
            try scenario.query("SELECT confirmed_flush_lsn > '\(lsn)'::pg_lsn FROM pg_replication_slots WHERE slot_name = '\(kafkaSlot)'") == "t"
        }
    }

    static func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    static func stop(_ process: Process) {
        process.terminate()
        process.waitUntilExit()
    }

    /// Polls `condition` until it holds, while `process` runs, for at most `seconds`.
    static func waitFor(_ what: String, within seconds: Int64, process: Process, errors: URL, _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(seconds))
        while try !condition() {
            try #require(process.isRunning, "outflow run stopped: \(text(errors))")
            try #require(ContinuousClock.now < deadline, "\(what) within \(seconds) s: \(text(errors))")
            usleep(100_000)  // polling a condition, bounded by the deadline
        }
    }

    /// The sink restores stage state from the newest checkpoint only, as a compacted topic
    /// leaves it (the mock never compacts): a restart still drops a duplicate whose key was first
    /// seen several commits before it, after the dedupe journal's last fsync — every checkpoint
    /// carries the keys added since that fsync. The stage's files are in `state_dir`.
    @Test func theNewestCheckpointAloneKeepsTheDedupeWindow() throws {
        let setup = try Setup(brokers: 1, sinkLines: "state_dir: ./kafka-state")
        defer { setup.cleanUp() }
        let (process, errors) = try setup.start(setup.kafkaFile)
        defer { if process.isRunning { Self.stop(process) } }
        // The pipeline dedupes on the outbox row's id: the same ids are inserted again below.
        let ids = (0..<4).map { _ in "'\(UUID().uuidString.lowercased())'" }
        for (n, id) in ids.enumerated() {
            // One group commit (one checkpoint) each; the first fsyncs the new journal.
            let before = try setup.scenario.query("SELECT pg_current_wal_lsn()")
            try setup.insert(key: "key-0", n: n, id: id)
            try Self.waitFor("event \(n) acknowledged", within: 60, process: process, errors: errors) { try setup.confirmed(after: before) }
        }
        Self.stop(process)
        #expect(process.terminationStatus == 0, "\(Self.text(errors))")

        for (n, id) in ids.enumerated() {
            try setup.scenario.psql("DELETE FROM \(setup.scenario.table) WHERE id = \(id)")
            try setup.insert(key: "key-0", n: 10 + n, id: id)
        }
        try setup.insert(key: "key-0", n: 20)
        let drained = try setup.drain(setup.kafkaFile)
        let values = try setup.consumeKafka().values.flatMap { $0 }.compactMap(\.value)
        #expect(values == [0, 1, 2, 3, 20].map { #"{"n": \#($0)}"# }, "\(drained.standardError)")
        let stateFiles = try FileManager.default.subpathsOfDirectory(atPath: setup.scenario.directory.appendingPathComponent("kafka-state").path)
        #expect(stateFiles.contains { $0.hasSuffix(".ddj") }, "\(stateFiles)")
        #expect(!FileManager.default.fileExists(atPath: setup.scenario.directory.appendingPathComponent(".outflow-state").path))
    }

    /// A missing checkpoint topic is created (1 partition, compacted) — which librdkafka 2.0.2's
    /// mock cannot answer (no CreateTopics), so here the start stops with what to create. (The
    /// mock creates any topic a lookup names: it is told to answer UNKNOWN_TOPIC_OR_PART.) An
    /// existing topic of 4 partitions (what the mock made) is used, with a warning; its
    /// cleanup.policy cannot be read from the mock (no DescribeConfigs), which the sink says
    /// and goes on.
    @Test func theCheckpointTopicIsCreatedOrCheckedOnStart() throws {
        let setup = try Setup(brokers: 1, checkpointPartitions: nil)
        defer { setup.cleanUp() }
        try setup.mock.command("topic-error __outflow_checkpoints 3")
        let refused = try OutflowProcess.run(
            ["run", setup.kafkaFile.path, "--progress-interval", "0"], environment: ["OUTFLOW_PG_URL": setup.scenario.url],
            currentDirectory: setup.scenario.directory)
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("the checkpoint topic __outflow_checkpoints does not exist and creating it failed"), "\(refused.standardError)")
        #expect(refused.standardError.contains("--partitions 1 --replication-factor 1 --config cleanup.policy=compact"), "\(refused.standardError)")

        try setup.mock.command("topic-error __outflow_checkpoints 0")
        let (process, errors) = try setup.start(setup.kafkaFile, ["--log-level", "notice"])
        defer { if process.isRunning { Self.stop(process) } }
        let before = try setup.scenario.query("SELECT pg_current_wal_lsn()")
        try setup.insert(key: "key-0", n: 0)
        try Self.waitFor("the event acknowledged", within: 60, process: process, errors: errors) { try setup.confirmed(after: before) }
        Self.stop(process)
        #expect(process.terminationStatus == 0, "\(Self.text(errors))")
        let output = Self.text(errors)
        #expect(output.contains("the checkpoint topic __outflow_checkpoints has 4 partitions"), "\(output)")
        #expect(output.contains("its cleanup.policy is not checked"), "\(output)")
        #expect(try setup.consumeKafka().values.flatMap { $0 }.compactMap(\.value) == [#"{"n": 0}"#])
    }

    /// `/metrics` counts the sink's Kafka transactions (committed, and aborted after an injected
    /// abortable error), the records the cluster acknowledged, each transaction's
    /// produce-to-commit time, and the brokers up (librdkafka's statistics).
    @Test func theMetricsCountTransactionsDeliveriesAndBrokers() throws {
        let setup = try Setup(brokers: 1)
        defer { setup.cleanUp() }
        let (process, errors) = try setup.start(setup.kafkaFile, ["--metrics-listen", "127.0.0.1:0"])
        defer { if process.isRunning { Self.stop(process) } }
        let port = try #require(MetricsEndpointCommandTests.port(in: Self.text(errors)), "\(Self.text(errors))")
        func samples() throws -> [String: Double] { MetricsEndpointCommandTests.samples(try MetricsEndpointCommandTests.get(port: port, path: "/metrics").body) }
        let committed = #"outflow_kafka_sink_transactions_total{outcome="committed"}"#
        let aborted = #"outflow_kafka_sink_transactions_total{outcome="aborted"}"#

        for n in 0..<3 {
            let before = try setup.scenario.query("SELECT pg_current_wal_lsn()")
            try setup.insert(key: "key-\(n)", n: n)
            try Self.waitFor("event \(n) acknowledged", within: 60, process: process, errors: errors) { try setup.confirmed(after: before) }
        }
        try setup.mock.command("errors 0 87")
        let before = try setup.scenario.query("SELECT pg_current_wal_lsn()")
        try setup.insert(key: "key-0", n: 3)
        try Self.waitFor("the event after the abort acknowledged", within: 60, process: process, errors: errors) { try setup.confirmed(after: before) }
        // Reports come after each group commit: the figures settle within one.
        var lastFigures: [String: Double] = [:]
        defer { if lastFigures.isEmpty == false { print("kafka sink figures: \(lastFigures.filter { $0.key.hasPrefix("outflow_kafka_sink") })") } }
        try Self.waitFor("the figures", within: 20, process: process, errors: errors) {
            let figures = try samples()
            lastFigures = figures
            return (figures[committed] ?? 0) >= 4 && (figures[aborted] ?? 0) >= 1 && figures["outflow_kafka_sink_brokers_up"] == 1
        }
        let figures = try samples()
        // Each committed transaction holds its event and a checkpoint; an aborted attempt's records may count too.
        #expect((figures["outflow_kafka_sink_records_delivered_total"] ?? 0) >= 2 * (figures[committed] ?? 0), "\(figures)")
        #expect(figures["outflow_kafka_sink_transaction_duration_seconds_count"] == figures[committed], "\(figures)")
        #expect(figures["outflow_kafka_sink_delivery_failures_total"] != nil)
        #expect(figures[#"outflow_kafka_sink_retries_total{kind="commit"}"#] != nil)
        Self.stop(process)
        #expect(process.terminationStatus == 0, "\(Self.text(errors))")
    }

    @Test func kafkaPythonReadsWhatTheLogSinkWritesForTheSamePipeline() throws {
        let setup = try Setup(brokers: 3)
        defer { setup.cleanUp() }
        // Both pipelines' slots exist before the events are written.
        for file in [setup.scenario.pipelineFile, setup.kafkaFile] {
            let (process, _) = try setup.start(file)
            Self.stop(process)
            #expect(process.terminationStatus == 0)
        }
        for index in 0..<6 { try setup.insert(key: "key-\(index % 3)", n: index) }
        try setup.scenario.psql("BEGIN; " + (6..<10).map {
            "INSERT INTO \(setup.scenario.table) VALUES (gen_random_uuid(), 'order', 'key-\($0 % 3)', 'Created', '{\"n\": \($0)}');"
        }.joined() + " COMMIT;")
        try setup.scenario.psql("BEGIN; INSERT INTO \(setup.scenario.table) VALUES (gen_random_uuid(), 'order', 'key-0', 'Created', '{\"n\": 99}'); ROLLBACK;")
        _ = try setup.drain(setup.scenario.pipelineFile)
        _ = try setup.drain(setup.kafkaFile)

        let kafka = try setup.consumeKafka()
        let log = try setup.consumeLog()
        #expect(kafka.keys.sorted() == ["0", "1", "2"])
        for partition in ["0", "1", "2"] {
            #expect(kafka[partition] ?? [] == log[partition] ?? [], "partition \(partition)")
        }
        let values = kafka.values.flatMap { $0 }.compactMap(\.value)
        #expect(values.count == 10)
        #expect(Set(values).count == 10)
        #expect(!values.contains(#"{"n": 99}"#))
        // Debezium's outbox headers and Outflow's position headers, on every record.
        for record in kafka.values.flatMap({ $0 }) {
            #expect(record.headers.map { $0.first ?? nil } == ["id", "type", "outflow.lsn", "outflow.xid"])
        }
        // Per key, in the order written.
        for key in ["key-0", "key-1", "key-2"] {
            let numbers = kafka.values.flatMap { $0 }.filter { $0.key == key }.compactMap(\.value)
            #expect(numbers == (0..<10).filter { "key-\($0 % 3)" == key }.map { #"{"n": \#($0)}"# })
        }
    }

    /// kill -9 while events keep arriving, a few times, then a drain: nothing is lost, and each
    /// key's events first arrive in the order written. The mock keeps the records of the
    /// transactions a kill cut short visible (it writes no ABORT markers), so a read_committed
    /// reader of the mock may see those again; on a real cluster they are aborted when the
    /// restart registers its transactional.id. The count of such records is printed.
    @Test func killNineAndRestartLoseNothing() throws {
        let setup = try Setup(brokers: 1)
        defer { setup.cleanUp() }
        var written: [(key: String, n: Int)] = []
        var n = 0
        for cycle in 0..<3 {
            let (process, errors) = try setup.start(setup.kafkaFile)
            // Single-row transactions, then one of 2000 rows: the kill is likely to cut a
            // Kafka transaction in the middle.
            for _ in 0..<10 {
                let key = "key-\(n % 4)"
                try setup.insert(key: key, n: n)
                written.append((key, n))
                n += 1
            }
            let large = (n..<(n + 2000)).map { (key: "key-\($0 % 4)", n: $0) }
            try setup.scenario.psql("INSERT INTO \(setup.scenario.table) SELECT gen_random_uuid(), 'order', 'key-' || (g % 4), 'Created', jsonb_build_object('n', g) FROM generate_series(\(n), \(n + 1999)) AS g")
            written += large
            n += 2000
            // The kill lands at a random point of the pipeline's work (fault placement, not a wait).
            usleep(UInt32.random(in: 0...400_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "cycle \(cycle): \(Self.text(errors))")
        }
        let drained = try setup.drain(setup.kafkaFile)
        #expect(drained.standardError.contains("resuming after"))

        let records = try setup.consumeKafka().values.flatMap { $0 }
        let values = records.compactMap(\.value)
        let seen = Set(values)
        let lost = written.filter { !seen.contains(#"{"n": \#($0.n)}"#) }.map(\.n)
        #expect(lost.isEmpty, "lost: \(lost.prefix(20))")
        for key in Set(written.map(\.key)) {
            var firstSeen: [String] = []
            for record in records where record.key == key {
                if let value = record.value, !firstSeen.contains(value) { firstSeen.append(value) }
            }
            #expect(firstSeen == written.filter { $0.key == key }.map { #"{"n": \#($0.n)}"# })
        }
        print("kill -9 × 3: \(written.count) events, \(values.count - seen.count) records of cut transactions still visible in the mock")
    }

    /// An injected Produce error that librdkafka treats as abortable (INVALID_RECORD): the sink
    /// aborts, produces the group again into a new transaction and goes on, and the pipeline
    /// stops cleanly. The mock keeps the records of aborted attempts visible (it writes no ABORT
    /// markers; on a real cluster a read_committed reader sees only the last attempt), so what
    /// the reader sees must be the whole group, complete and in order, once per attempt whose
    /// request was not the failed one: the group produced again is the same records. (An abort may itself need a second
    /// one: after a failed request librdkafka bumps the epoch through an abortable
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.)
    @Test func anAbortableProduceErrorIsSurvived() throws {
        let setup = try Setup(brokers: 1)
        defer { setup.cleanUp() }
        let (process, errors) = try setup.start(setup.kafkaFile)
        defer { if process.isRunning { Self.stop(process) } }
        try setup.mock.command("errors 0 87")
        try setup.scenario.psql("BEGIN; " + (0..<5).map {
            "INSERT INTO \(setup.scenario.table) VALUES (gen_random_uuid(), 'order', 'key-0', 'Created', '{\"n\": \($0)}');"
        }.joined() + " COMMIT;")
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while !(try String(contentsOf: errors, encoding: .utf8)).contains("producing the group again") {
            try #require(process.isRunning, "outflow run stopped: \(Self.text(errors))")
            try #require(ContinuousClock.now < deadline, "no abort seen: \(Self.text(errors))")
            usleep(50_000)  // polling a file for a condition, bounded by the deadline
        }
        Self.stop(process)
        #expect(process.terminationStatus == 0, "\(Self.text(errors))")
        _ = try setup.drain(setup.kafkaFile)
        let values = try setup.consumeKafka().values.flatMap { $0 }.compactMap(\.value)
        let aborts = Self.text(errors).components(separatedBy: "producing the group again").count - 1
        let attempts = aborts + 1
        #expect(attempts >= 2)
        // Each attempt's records are in one request (one partition, one batch): the one the
        // injected error failed stored nothing, the others are whole.
        let group = (0..<5).map { #"{"n": \#($0)}"# }
        let copies = values.count / group.count
        #expect((1...attempts).contains(copies) && values == Array(repeating: group, count: copies).flatMap { $0 }, "\(attempts) attempts: \(values)")
    }

    /// A fatal error (PRODUCER_FENCED on EndTxn: another instance took the transactional.id)
    /// stops the pipeline with exit status 1 and the error's code, and the slot is not moved past
    /// what Kafka committed: a restart resumes from the last committed checkpoint.
    @Test func aFencedProducerStopsWithItsCodeAndARestartResumes() throws {
        let setup = try Setup(brokers: 1)
        defer { setup.cleanUp() }
        let (process, errors) = try setup.start(setup.kafkaFile)
        defer { if process.isRunning { Self.stop(process) } }
        try setup.insert(key: "key-0", n: 0)
        _ = try setup.mock.command("errors 26 90")
        try setup.insert(key: "key-0", n: 1)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(Self.text(errors).contains("kafka_fenced"), "\(Self.text(errors))")
        _ = try setup.drain(setup.kafkaFile)
        let values = try setup.consumeKafka().values.flatMap { $0 }.compactMap(\.value)
        #expect(Set(values) == [#"{"n": 0}"#, #"{"n": 1}"#])
    }

    /// at_least_once (idempotent producer, acknowledged after the delivery reports and the
    /// checkpoint) and at_most_once (acknowledged on receipt): without a crash every event
    /// arrives once, in order, and a restart writes nothing again.
    @Test(arguments: ["at_least_once", "at_most_once"]) func thePlainGuaranteesDeliverEveryEventOnce(guarantee: String) throws {
        let setup = try Setup(brokers: 1)
        defer { setup.cleanUp() }
        let file = try String(contentsOf: setup.kafkaFile, encoding: .utf8)
        try file.replacingOccurrences(of: "guarantee: exactly_once", with: "guarantee: \(guarantee)").write(to: setup.kafkaFile, atomically: true, encoding: .utf8)
        let (process, errors) = try setup.start(setup.kafkaFile)
        for index in 0..<8 { try setup.insert(key: "key-\(index % 2)", n: index) }
        Self.stop(process)
        #expect(process.terminationStatus == 0, "\(Self.text(errors))")
        try setup.insert(key: "key-0", n: 8)
        _ = try setup.drain(setup.kafkaFile)
        let records = try setup.consumeKafka().values.flatMap { $0 }
        #expect(records.compactMap(\.value).sorted() == (0..<9).map { #"{"n": \#($0)}"# })
        for key in ["key-0", "key-1"] {
            #expect(records.filter { $0.key == key }.compactMap(\.value) == (0..<9).filter { "key-\($0 % 2)" == key }.map { #"{"n": \#($0)}"# })
        }
    }

    /// The broker goes down under a running pipeline: the sink backs off with log lines and the
    /// slot is not acknowledged past what Kafka committed; once the broker is back the events
    /// arrive and the slot moves on.
    @Test func aBrokerDownIsWaitedOutWithoutAcknowledgingAhead() throws {
        let setup = try Setup(brokers: 1)
        defer { setup.cleanUp() }
        let (process, errors) = try setup.start(setup.kafkaFile)
        defer { if process.isRunning { Self.stop(process) } }
        func confirmed(after lsn: String) throws -> Bool { try setup.confirmed(after: lsn) }
        func waitFor(_ what: String, within seconds: Int64, _ condition: () throws -> Bool) throws {
            try Self.waitFor(what, within: seconds, process: process, errors: errors, condition)
        }
        let beforeFirst = try setup.scenario.query("SELECT pg_current_wal_lsn()")
        try setup.insert(key: "key-0", n: 0)
        try waitFor("the first event acknowledged", within: 60) { try confirmed(after: beforeFirst) }

        let kafkaLinesBefore = Self.text(errors).components(separatedBy: "kafka").count
        try setup.mock.command("broker 1 down")
        let beforeSecond = try setup.scenario.query("SELECT pg_current_wal_lsn()")
        try setup.insert(key: "key-0", n: 1)
        try waitFor("a line about the broker", within: 60) { Self.text(errors).components(separatedBy: "kafka").count > kafkaLinesBefore }
        #expect(try !confirmed(after: beforeSecond), "acknowledged while the broker was down")

        try setup.mock.command("broker 1 up")
        try waitFor("the second event acknowledged", within: 90) { try confirmed(after: beforeSecond) }
        Self.stop(process)
        #expect(process.terminationStatus == 0, "\(Self.text(errors))")
        let values = try setup.consumeKafka().values.flatMap { $0 }.compactMap(\.value)
        #expect(values == [#"{"n": 0}"#, #"{"n": 1}"#])
    }
}
