import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `outflow run --metrics-listen`: a running pipeline's /metrics move as events flow and agree
/// with the server; /health and /ready answer.
@Suite struct MetricsEndpointCommandTests {
    typealias Scenario = RunCommandTests.Scenario

    @Test func metricsMoveAsEventsFlowAndAgreeWithTheSlot() throws {
        let scenario = try Scenario()
        defer { scenario.cleanUp() }
        let (process, errors) = try scenario.start(extraArguments: ["--metrics-listen", "127.0.0.1:0"])
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        let output = try String(contentsOf: errors, encoding: .utf8)
        let port = try #require(Self.port(in: output), "no metrics line in: \(output)")

        #expect(try Self.get(port: port, path: "/health").status == 200)
        for index in 0..<3 {
            try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'm-\(index)', 'Created', '{}')")
        }
        // The counters reach the three records (each scrape is a fresh HTTP request, bounded by the deadline).
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        var metrics: [String: Double] = [:]
        repeat {
            metrics = Self.samples(try Self.get(port: port, path: "/metrics").body)
            if (metrics["outflow_sink_records_total"] ?? 0) >= 3 { break }
            usleep(50_000)  // polling an endpoint for a condition, bounded by the deadline
        } while ContinuousClock.now < deadline
        #expect(metrics["outflow_sink_records_total"] == 3)
        #expect(metrics["outflow_source_events_total"] == 3)
        #expect((metrics["outflow_sink_commits_total"] ?? 0) >= 1)
        #expect(metrics["outflow_sink_commit_duration_seconds_count"] == metrics["outflow_sink_commits_total"])
        // Each commit fsyncs its data files and then its commit record: two phases at least.
        #expect((metrics["outflow_log_fsync_duration_seconds_count"] ?? 0) >= 2 * (metrics["outflow_sink_commits_total"] ?? 1))
        #expect((metrics["outflow_source_bytes_total"] ?? 0) > 0)
        #expect((metrics["outflow_source_last_commit_received_timestamp_seconds"] ?? 0) > 0)
        #expect(try Self.get(port: port, path: "/ready").status == 200)

        // The durable position is the server's: at most what the slot has confirmed, and at least
        // the commit of the last insert.
        let durable = try #require(metrics["outflow_source_durable_lsn_bytes"])
        let confirmed = Double(try Self.lsnBytes(try scenario.query("SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = 'run_slot_\(scenario.suffix)'")))
        let current = Double(try Self.lsnBytes(try scenario.query("SELECT pg_current_wal_lsn() - '0/0'")))
        #expect(durable > 0 && durable <= current)
        #expect(confirmed >= durable || confirmed == 0, "confirmed \(confirmed), durable \(durable)")
        #expect((metrics["outflow_replication_lag_bytes"] ?? -1) >= 0)
        #expect(metrics["outflow_replication_lag_bytes"].map { $0 <= current - durable + 1 } == true)

        // The committed Grafana dashboard asks only for metrics this pipeline serves. The log and
        // slot monitors sample every 10 s: bounded poll until their first figures with data.
        let wanted = try Self.dashboardMetrics()
        #expect(wanted.count > 10)
        // A consumer group's lag exists once some group has committed offsets; none has here.
        let later: Set<String> = ["outflow_consumer_group_lag"]
        var missing = wanted.subtracting(later)
        let monitorDeadline = ContinuousClock.now.advanced(by: .seconds(30))
        repeat {
            missing.subtract(Self.families(try Self.get(port: port, path: "/metrics").body))
            if missing.isEmpty { break }
            usleep(250_000)
        } while ContinuousClock.now < monitorDeadline
        #expect(missing.isEmpty, "the dashboard asks for metrics the pipeline does not serve: \(missing.sorted())")
    }

    /// The metric families a scrape declares (`# TYPE name kind`).
    static func families(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").compactMap { line in
            line.hasPrefix("# TYPE ") ? line.split(separator: " ").dropFirst(2).first.map(String.init) : nil
        })
    }

    /// Every `outflow_…` family named in the dashboard's queries (histogram series by family).
    static func dashboardMetrics() throws -> Set<String> {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docker/grafana/dashboards/outflow.json"), encoding: .utf8)
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        let name = try Regex("outflow_[a-z_]+")
        return Set(expressions.flatMap { expression in
            expression.matches(of: name).map { match in
                var family = String(expression[match.range])
                for suffix in ["_bucket", "_count", "_sum"] where family.hasSuffix(suffix) { family.removeLast(suffix.count) }
                return family
            }
        })
    }

    static func lsnBytes(_ text: String) throws -> UInt64 {
        try #require(UInt64(text.split(separator: ".").first.map(String.init) ?? text))
    }

    static func port(in output: String) -> Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("metrics: http://") }) else { return nil }
        let address = line.dropFirst("metrics: http://".count).prefix { $0 != "/" }
        return address.split(separator: ":").last.flatMap { Int($0) }
    }

    /// `name value` lines of Prometheus' text format (no labels here).
    static func samples(_ text: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }

    struct SocketError: Error { var what: String }

    /// One GET over a plain socket with `Connection: close`.
    static func get(port: Int, path: String) throws -> (status: Int, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(what: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw SocketError(what: "connect to \(port)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { throw SocketError(what: "send") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }
}

/// A password in the source URL never shows: not in what `outflow run` prints, not in the
/// metrics or readiness, not in `outflow status`, not in an error that names the connection.
@Suite struct SecretRedactionTests {
    @Test func thePasswordInTheURLAppearsNowhere() throws {
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        let secret = "Zq9-secret-\(UInt32.random(in: 1000...9999))"
        // A role of the test's own whose password is the secret, with the pipeline role's rights.
        let admin = try #require(ProcessInfo.processInfo.environment["OUTFLOW_TEST_PG_ADMIN_URL"], "OUTFLOW_TEST_PG_ADMIN_URL is not set: run under make test")
        let role = "secret_role_\(scenario.suffix)"
        let psql = try #require(OutflowProcess.which("psql"))
        func asAdmin(_ sql: String) throws -> Int32 { try OutflowProcess.run(executable: psql, ["-X", "-q", admin, "-c", sql]).status }
        #expect(try asAdmin("CREATE ROLE \(role) LOGIN REPLICATION PASSWORD '\(secret)' IN ROLE outflow") == 0)
        defer { _ = try? asAdmin("DROP ROLE IF EXISTS \(role)") }
        var components = try #require(URLComponents(string: scenario.url))
        components.user = role
        components.password = secret
        let url = try #require(components.string)
        let (process, errors) = try scenario.start(extraArguments: ["--metrics-listen", "127.0.0.1:0"], pipelineURL: url)
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        let port = try #require(MetricsEndpointCommandTests.port(in: try String(contentsOf: errors, encoding: .utf8)))
        try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'k', 'Created', '{}')")
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while try scenario.committedKeys().isEmpty, ContinuousClock.now < deadline { usleep(50_000) }  // bounded poll of the log
        var seen: [String] = []
        seen.append(try MetricsEndpointCommandTests.get(port: port, path: "/metrics").body)
        seen.append(try MetricsEndpointCommandTests.get(port: port, path: "/ready").body)
        for arguments in [["status", scenario.pipelineFile.path], ["status", scenario.pipelineFile.path, "--json"], ["explain", scenario.pipelineFile.path]] {
            let result = try OutflowProcess.run(arguments, environment: ["OUTFLOW_PG_URL": url], currentDirectory: scenario.directory)
            #expect(result.status == 0, "\(arguments): \(result.standardError)")
            seen += [result.standardOutput, result.standardError]
        }
        // An error that names the connection: nothing listens on port 1.
        components.port = 1
        let unreachable = try OutflowProcess.run(
            ["status", scenario.pipelineFile.path], environment: ["OUTFLOW_PG_URL": try #require(components.string)], currentDirectory: scenario.directory)
        #expect(unreachable.status != 0)
        seen += [unreachable.standardOutput, unreachable.standardError]
        process.terminate()
        process.waitUntilExit()
        seen.append(try String(contentsOf: errors, encoding: .utf8))
        #expect(seen.count == 11)
        for (index, text) in seen.enumerated() { #expect(!text.contains(secret), "output \(index) shows the password: \(text)") }
    }
}

/// `/ready` says whether the pipeline streams: 503 with the reason while its PostgreSQL is
/// down, 200 again once it is back — on a server of the test's own.
@Suite struct ReadinessTests {
    @Test func readyTurnsUnavailableWhilePostgresIsDownAndBackAfter() throws {
        let script = OutflowProcess.sourceRoot.appendingPathComponent("scripts/pg-sandbox").path
        let sandbox = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-ready-pg-\(UUID().uuidString)").path
        let start = try CrashTests.shell([script, "start", "--dir", sandbox])
        try #require(start.status == 0, "pg-sandbox start: \(start.output)")
        defer { _ = try? CrashTests.shell([script, "stop", "--dir", sandbox]) }
        let url = try CrashTests.shell([script, "url", "--dir", sandbox]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-ready-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let psql = try #require(OutflowProcess.which("psql"))
        let created = try OutflowProcess.run(executable: psql, ["-X", "-q", url, "-c", "CREATE TABLE ready_outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL, payload jsonb)"])
        try #require(created.status == 0, "\(created.standardError)")
        try """
            version: 1
            name: ready-test
            source:
              postgres:
                url: ${env:OUTFLOW_PG_URL}
                tables: [public.ready_outbox]
            stages:
              - outbox: {table: public.ready_outbox}
            sink:
              log: {dir: ./data/log}
            runtime:
              metrics: {listen: "127.0.0.1:0"}
            """.write(to: directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)

        let errors = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = try OutflowProcess.binary()
        process.arguments = ["run", "pipeline.yaml", "--progress-interval", "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(["OUTFLOW_PG_URL": url]) { $1 }
        process.currentDirectoryURL = directory
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }

        let deadline = ContinuousClock.now.advanced(by: .seconds(90))
        /// Polls /ready (a fresh request each time) until it answers `status`, bounded by the deadline.
        func waitForReady(_ status: Int) throws -> (status: Int, body: String)? {
            while ContinuousClock.now < deadline, process.isRunning {
                if let port = MetricsEndpointCommandTests.port(in: try String(contentsOf: errors, encoding: .utf8)),
                   let answer = try? MetricsEndpointCommandTests.get(port: port, path: "/ready"), answer.status == status {
                    return answer
                }
                usleep(100_000)  // polling an endpoint for a condition, bounded by the deadline
            }
            return nil
        }
        func output() -> String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }
        try #require(try waitForReady(200) != nil, "never ready: \(output())")
        let halt = try CrashTests.shell([script, "halt", "--dir", sandbox])
        try #require(halt.status == 0, "pg-sandbox halt: \(halt.output)")
        let down = try #require(try waitForReady(503), "still ready with PostgreSQL down: \(output())")
        #expect(down.body.contains("stalled"))
        let resume = try CrashTests.shell([script, "resume", "--dir", sandbox])
        try #require(resume.status == 0, "pg-sandbox resume: \(resume.output)")
        #expect(try waitForReady(200) != nil, "not ready again after PostgreSQL came back: \(output())")
    }
}

/// `--log-format json --log-level info`: log lines are JSON objects a collector can parse.
@Suite struct LogFormatTests {
    @Test func jsonLogLinesParseAndCarryTheLevelAndMessage() throws {
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        let (process, errors) = try scenario.start(extraArguments: ["--log-format", "json", "--log-level", "info"])
        try scenario.psql("INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', 'k', 'Created', '{}')")
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while try scenario.committedKeys().isEmpty, ContinuousClock.now < deadline { usleep(50_000) }  // bounded poll of the log
        process.terminate()
        process.waitUntilExit()
        let lines = try String(contentsOf: errors, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("{") }
        let objects = try lines.map { try JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        #expect(!objects.isEmpty)
        for object in objects {
            #expect(object["time"] != nil && object["logger"] != nil && object["message"] != nil)
            #expect(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(object["level"] ?? ""))
        }
        // At info, the source says when it streams (and from where).
        #expect(objects.contains { $0["level"] == "info" && $0["message"] == "streaming" && $0["outflow.slot"] != nil }, "\(objects)")
    }
}
