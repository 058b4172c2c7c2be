import Foundation
import Testing

/// `outflow validate`, `explain` and `schema`, run as a user runs them.
@Suite struct ValidateCommandTests {
    static let secret = "cli-s3cret-value"

    /// Writes `text` as a pipeline file in a fresh directory and returns its path.
    static func pipelineFile(_ text: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("pipeline.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    static let invalid = """
        version: 1
        name: orders
        source:
          postgres:
            url: ${env:OUTFLOW_TEST_UNSET_VARIABLE_7F3A}
            tables: [public.outbox]
        stages:
          - outbox: {table: public.outbox}
          - dedupe:
              key: id
              windw: 24h
        sink:
          log:
            dir: ./data/log
            partitions: 0
        """

    @Test func theExamplePipelineIsValid() throws {
        let result = try OutflowProcess.run(
            ["validate", "pipelines/outbox.yaml"], environment: ["OUTFLOW_PG_URL": "postgres://u:\(Self.secret)@h/db"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.hasPrefix("pipelines/outbox.yaml: OK"))
        #expect(result.standardOutput.split(separator: "\n").count == 1)
        #expect(!result.standardOutput.contains(Self.secret))
    }

    @Test func everyErrorIsPrintedWithItsPositionAndExitIs78() throws {
        let file = try Self.pipelineFile(Self.invalid)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let result = try OutflowProcess.run(["validate", file.path])
        #expect(result.status == 78)
        #expect(result.standardOutput.isEmpty)
        let lines = result.standardError.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let errors = lines.filter { $0.hasPrefix(file.path + ":") }
        #expect(errors == [
            "\(file.path):5:10: error: environment variable OUTFLOW_TEST_UNSET_VARIABLE_7F3A is not set",
            "\(file.path):11:7: error: unknown key 'windw' in dedupe stage",
            "\(file.path):15:17: error: 0 is out of range: must be between 1 and 10000",
        ])
        // Each error is followed by its line and a caret under the column.
        if let index = lines.firstIndex(of: "\(file.path):11:7: error: unknown key 'windw' in dedupe stage") {
            #expect(lines[index + 1] == "      windw: 24h")
            #expect(lines[index + 2] == "      ^~~~~")
            #expect(lines[index + 3] == "hint: did you mean 'window'?")
        }
    }

    @Test func jsonFormatForTools() throws {
        let file = try Self.pipelineFile(Self.invalid)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let result = try OutflowProcess.run(["validate", file.path, "--format", "json"])
        #expect(result.status == 78)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        #expect(object?["valid"] as? Bool == false)
        let errors = object?["errors"] as? [[String: Any]] ?? []
        #expect(errors.map { "\($0["line"] ?? ""):\($0["column"] ?? ""):\($0["code"] ?? "")" } == [
            "5:10:interpolation", "11:7:unknown-key", "15:17:invalid-value",
        ])
    }

    @Test func aMissingFileIsInvalid() throws {
        let result = try OutflowProcess.run(["validate", "/nonexistent/outflow.yaml"])
        #expect(result.status == 78)
        #expect(result.standardError.hasPrefix("/nonexistent/outflow.yaml:1:1: error: cannot read the file"))
    }

    @Test func explainShowsTheGraphAndNoSecret() throws {
        let environment = ["OUTFLOW_PG_URL": "postgres://u:\(Self.secret)@h/db"]
        let text = try OutflowProcess.run(["explain", "pipelines/outbox.yaml"], environment: environment)
        #expect(text.status == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains("dedupe [dedupe] ← outbox"))
        #expect(text.standardOutput.contains("url: ${env:OUTFLOW_PG_URL}"))
        let dot = try OutflowProcess.run(["explain", "pipelines/outbox.yaml", "--graph", "dot"], environment: environment)
        #expect(dot.status == 0)
        #expect(dot.standardOutput.hasPrefix("digraph \"orders-outbox\" {"))
        #expect(dot.standardOutput.contains("stage_outbox -> stage_dedupe;"))
        let json = try OutflowProcess.run(["explain", "pipelines/outbox.yaml", "--format", "json"], environment: environment)
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        #expect(object?["guarantee"] as? String == "exactly_once")
        for output in [text.standardOutput, text.standardError, dot.standardOutput, json.standardOutput] {
            #expect(!output.contains(Self.secret))
        }
    }

    @Test func schemaIsJSONSchema() throws {
        let result = try OutflowProcess.run(["schema"])
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        #expect(object?["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        let properties = object?["properties"] as? [String: Any]
        #expect(Set(properties?.keys.map { $0 } ?? []) == ["version", "name", "source", "stages", "sink", "guarantee", "dead_letter", "runtime", "serve"])
        let serve = ((properties?["serve"] as? [String: Any])?["oneOf"] as? [[String: Any]])?.last
        #expect(Set((serve?["properties"] as? [String: Any])?.keys.map { $0 } ?? []) == ["listen", "advertised_host", "tls", "sasl"])
        let sasl = (serve?["properties"] as? [String: Any])?["sasl"] as? [String: Any]
        #expect(Set((sasl?["properties"] as? [String: Any])?.keys.map { $0 } ?? []) == ["mechanisms", "allow_plaintext_passwords", "users"])
    }
}
