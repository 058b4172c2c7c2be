import Testing
@testable import Pipeline

@Suite struct OutboxCleanupConfigTests {
    static func file(_ outbox: String) -> String {
        """
        version: 1
        name: cleanup
        source:
          postgres:
            url: postgres://u@h/db
            slot: s
            publication: p
            tables: [public.outbox]
        stages:
          - outbox:
        \(outbox)
        sink:
          log: {dir: ./data/log}
        """
    }

    static func outbox(_ text: String) throws -> OutboxStageConfig {
        let config = try PipelineFile.parse(yaml: file(text), environment: Fixtures.environment)
        guard case .outbox(let outbox) = config.stages[0].kind else { throw PipelineError(.configuration, "not an outbox stage") }
        return outbox
    }

    @Test func offWhenAbsent() throws {
        #expect(try Self.outbox("      table: public.outbox").cleanup == nil)
    }

    @Test func theDefaults() throws {
        let cleanup = try #require(try Self.outbox("      table: public.outbox\n      cleanup: {}").cleanup)
        #expect(cleanup.retention.milliseconds == 7 * 86_400_000)
        #expect(cleanup.column == "created_at")
        #expect(cleanup.interval.milliseconds == 30_000)
        #expect(cleanup.batchSize == 1000)
    }

    @Test func everyOptionIsRead() throws {
        let cleanup = try #require(try Self.outbox("""
                  table: public.outbox
                  cleanup: {retention: 0s, column: inserted_at, interval: 500ms, batch_size: 50}
            """).cleanup)
        #expect(cleanup == OutboxStageConfig.Cleanup(retention: ConfigDuration("0s")!, column: "inserted_at", interval: ConfigDuration("500ms")!, batchSize: 50))
    }

    @Test(arguments: [
        ("cleanup: {retention: soon}", "invalid duration 'soon'"),
        ("cleanup: {interval: 0s}", "the cleanup interval must be longer than 0"),
        ("cleanup: {batch_size: 0}", "0 is out of range"),
        ("cleanup: {retension: 1d}", "retension"),
    ])
    func badValuesAreDiagnosedWithTheirPlace(line: String, message: String) {
        let text = Self.file("      table: public.outbox\n      \(line)")
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.count == 1, "\(diagnostics)")
        #expect(diagnostics.first.map { "\($0)".contains(message) } == true, "\(diagnostics)")
        #expect(diagnostics.first?.location.line == 12, "\(diagnostics)")
    }

    @Test func theSchemaKnowsIt() throws {
        let schema = PipelineSchema.text
        for key in ["\"cleanup\"", "\"retention\"", "\"batch_size\""] {
            #expect(schema.contains(key), "\(key)")
        }
    }
}
