import Testing
@testable import Pipeline

@Suite struct StageGraphTests {
    static func pipeline(_ stages: String) -> String {
        "version: 1\nname: g\nsource: {postgres: {url: u, tables: [t]}}\nsink: {log: {dir: d}}\nstages:\n" + stages
    }

    @Test func unreadOutputsGoToTheSink() throws {
        let config = try PipelineFile.parse(yaml: Self.pipeline("""
              - id: split
                route: {outputs: {eu: "headers.region == 'eu'", us: "headers.region == 'us'", other: "true"}}
              - id: eu_only
                inputs: [split.eu]
                filter: payload.ok
              - id: audit
                inputs: [source]
                key: id
            """), environment: .fixed([:]))
        #expect(config.graph.sinkInputs == [
            StageInput(stage: "split", output: "us"), StageInput(stage: "split", output: "other"),
            StageInput(stage: "eu_only"), StageInput(stage: "audit"),
        ])
        // The source fans out to two stages.
        #expect(config.graph.consumers(of: .source) == ["split", "audit"])
    }

    @Test func aRouteWithOutputsMustBeReadThroughThem() {
        let text = Self.pipeline("""
              - id: split
                route: {outputs: {a: "true", b: "false"}}
              - inputs: [split]
                filter: "true"
              - key: id
            """)
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.map(\.message) == ["route 'split' has named outputs; read one of them"])
        #expect(diagnostics.first?.hint == "write split.a or split.b")
        #expect(diagnostics.first?.location == Fixtures.location(of: "split]", in: text))

        let implicit = Self.pipeline("""
              - id: split
                route: {outputs: {a: "true"}}
              - key: id
            """)
        let implicitDiagnostics = Fixtures.diagnostics(implicit)
        #expect(implicitDiagnostics.map(\.message) == ["stage 'key' has no inputs, and the stage before it, 'split', has named outputs"])
        #expect(implicitDiagnostics.first?.location == Fixtures.location(of: "key: id", in: implicit))
    }

    @Test func stagesDownstreamOfACycleAreUnreachable() {
        let text = Self.pipeline("""
              - {id: a, inputs: [c], filter: "true"}
              - {id: b, inputs: [a], filter: "true"}
              - {id: c, inputs: [b], filter: "true"}
              - {id: after, inputs: [c], key: id}
              - {id: fine, inputs: [source], key: id}
            """)
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.map(\.code) == [.graphCycle, .unreachableStage])
        #expect(diagnostics.first?.message == "stages form a cycle: a → b → c → a")
        #expect(diagnostics.first?.location == Fixtures.location(of: "{id: a", in: text))
        #expect(diagnostics.last?.message == "stage 'after' is unreachable from the source: its inputs are on a cycle")
    }

    @Test func inputNamingMistakes() {
        let text = Self.pipeline("""
              - id: first
                filter: "true"
              - inputs: [first, first, source.x, first.out]
                key: id
            """)
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.map(\.message) == [
            "input 'first' is listed twice", "the source has no output 'x'", "stage 'first' has no named outputs",
        ])
    }

    @Test func theReservedSourceIDAndInvalidIDs() {
        let diagnostics = Fixtures.diagnostics(Self.pipeline("""
              - {id: source, filter: "true"}
              - {id: "9lives", key: id}
            """))
        #expect(diagnostics.map(\.code) == [.invalidName, .invalidName])
        #expect(diagnostics.map(\.message) == ["'source' is reserved for the pipeline's source", "invalid stage id '9lives'"])
    }
}
