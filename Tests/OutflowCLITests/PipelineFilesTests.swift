import Foundation
import Testing

/// The pipeline files the project ships are valid, and the schema editors use is current.
@Suite struct PipelineFilesTests {
    static let files: [String] = {
        let directory = OutflowProcess.sourceRoot.appendingPathComponent("pipelines")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "pipelines/\($0)" }
    }()

    @Test func thereAreTheDocumentedPipelines() {
        #expect(Set(Self.files).isSuperset(of: ["pipelines/outbox.yaml", "pipelines/tables.yaml", "pipelines/fanout.yaml"]))
    }

    @Test(arguments: files)
    func validates(file: String) throws {
        let result = try OutflowProcess.run(["validate", file], environment: ["OUTFLOW_PG_URL": "postgresql://user:secret@localhost/db"])
        #expect(result.status == 0, "\(result.standardError)")
        let text = try String(contentsOf: OutflowProcess.sourceRoot.appendingPathComponent(file), encoding: .utf8)
        #expect(text.hasPrefix("# yaml-language-server: $schema=../docs/pipeline.schema.json"))
    }

    @Test func theCommittedSchemaIsWhatOutflowPrints() throws {
        let result = try OutflowProcess.run(["schema"])
        #expect(result.status == 0)
        let committed = try String(contentsOf: OutflowProcess.sourceRoot.appendingPathComponent("docs/pipeline.schema.json"), encoding: .utf8)
        #expect(committed == result.standardOutput, "regenerate it: outflow schema > docs/pipeline.schema.json")
    }
}
