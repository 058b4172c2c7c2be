import Foundation
import Testing
@testable import Pipeline

/// Each class of mistake gives its code and message at the line and column of the mistake.
@Suite struct InvalidFileTests {
    static let base = """
        version: 1
        name: orders
        source:
          postgres:
            url: postgres://h/db
            tables: [public.outbox]
        stages:
          - outbox: {table: public.outbox}
          - dedupe:
              key: id
              window: 24h
        sink:
          log:
            dir: ./data/log
            partitions: 3
        guarantee: exactly_once
        """

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var replace: String
        var with: String
        var code: PipelineDiagnostic.Code
        /// The text the diagnostic points at (its first occurrence in the edited file).
        var at: String
        var occurrence = 1
        /// Columns from the start of `at` to the mistake.
        var shift = 0
        var message: String
        var hint: String?
        /// Codes of further diagnostics the mistake causes.
        var others: [PipelineDiagnostic.Code] = []
        /// A second edit, for mistakes that take two places.
        var alsoReplace: (String, String)? = nil
        var testDescription: String { name }

        var text: String {
            precondition(InvalidFileTests.base.contains(replace), "\(replace) is not in the base file")
            let edited = InvalidFileTests.base.replacingOccurrences(of: replace, with: with)
            guard let (other, replacement) = alsoReplace else { return edited }
            return edited.replacingOccurrences(of: other, with: replacement)
        }
    }

    static let cases: [Case] = [
        Case(name: "metrics address without a port", replace: "guarantee: exactly_once", with: "runtime:\n  metrics: {listen: localhost}",
             code: .invalidValue, at: "localhost", message: "not host:port with a port from 0 to 65535", hint: "e.g. 127.0.0.1:9464"),
        Case(name: "unknown key", replace: "window: 24h", with: "windw: 24h", code: .unknownKey, at: "windw",
             message: "unknown key 'windw' in dedupe stage", hint: "did you mean 'window'?"),
        Case(name: "unknown top-level key", replace: "guarantee: exactly_once", with: "guarante: exactly_once", code: .unknownKey,
             at: "guarante", message: "unknown key 'guarante' in the pipeline file", hint: "did you mean 'guarantee'?"),
        Case(name: "wrong type", replace: "partitions: 3", with: "partitions: three", code: .wrongType, at: "three",
             message: "expected an integer, found a string"),
        Case(name: "quoted integer", replace: "partitions: 3", with: "partitions: \"3\"", code: .wrongType, at: "\"3\"",
             message: "expected an integer, found a string", hint: "remove the quotes"),
        Case(name: "hexadecimal integer", replace: "partitions: 3", with: "partitions: 0x3", code: .wrongType, at: "0x3",
             message: "'0x3' is not a decimal integer"),
        Case(name: "out of range", replace: "partitions: 3", with: "partitions: 0", code: .invalidValue, at: "0",
             message: "0 is out of range: must be between 1 and 10000"),
        Case(name: "missing field", replace: "    dir: ./data/log\n", with: "", code: .missingField, at: "partitions",
             message: "missing required field 'dir' in sink.log"),
        Case(name: "mapping expected", replace: "    tables: [public.outbox]", with: "    tables: public.outbox", code: .wrongType,
             at: "public.outbox", message: "expected a list, found a string"),
        Case(name: "invalid duration", replace: "window: 24h", with: "window: 24 hours", code: .invalidDuration, at: "24 hours",
             message: "invalid duration '24 hours'"),
        Case(name: "duration without unit", replace: "window: 24h", with: "window: 24", code: .invalidDuration, at: "24",
             occurrence: 1, message: "invalid duration '24'", hint: "add a unit: 24s or 24ms"),
        Case(name: "invalid size", replace: "partitions: 3", with: "partitions: 3\n    segment_bytes: 64 megs", code: .invalidSize,
             at: "64 megs", message: "invalid size '64 megs'"),
        Case(name: "invalid enum value", replace: "guarantee: exactly_once", with: "guarantee: exactly-once", code: .invalidValue,
             at: "exactly-once", message: "invalid value 'exactly-once'", hint: "did you mean 'exactly_once'?"),
        Case(name: "topic name character", replace: "guarantee: exactly_once", with: "dead_letter: orders/failed", code: .invalidTopicName,
             at: "orders/failed", message: "invalid character '/' in topic name 'orders/failed'"),
        Case(name: "topic name dot-dot", replace: "guarantee: exactly_once", with: "dead_letter: {topic: '..'}", code: .invalidTopicName,
             at: "'..'", message: "'..' is not a valid topic name"),
        Case(name: "topic name too long", replace: "guarantee: exactly_once", with: "dead_letter: " + String(repeating: "t", count: 250),
             code: .invalidTopicName, at: "ttt", message: "topic name is 250 characters long; the limit is 249"),
        Case(name: "pipeline name", replace: "name: orders", with: "name: orders/eu", code: .invalidName, at: "orders/eu",
             message: "invalid character '/' in pipeline name 'orders/eu'"),
        Case(name: "unsupported version", replace: "version: 1", with: "version: 2", code: .unsupportedVersion, at: "2",
             message: "unsupported version 2"),
        Case(name: "expression syntax", replace: "key: id", with: "key: payload.amount > > 1", code: .expression, at: "> 1",
             message: "expected a value, a field or '(', found '>'"),
        Case(name: "expression in quotes", replace: "key: id", with: "key: \"lowr(id)\"", code: .expression, at: "lowr",
             message: "unknown function 'lowr'", hint: "did you mean 'lower'?"),
        Case(name: "expression after escapes", replace: "key: id", with: #"key: "concat('\t', id) == = 1""#, code: .expression,
             at: "= 1", message: "unexpected character '='", hint: "compare with '=='"),
        Case(name: "expression type", replace: "key: id", with: "key: concat(id) + 1", code: .expression, at: "concat",
             message: "'+' needs a number, got a string", hint: "join strings with concat()"),
        Case(name: "condition type", replace: "  - dedupe:", with: "  - filter: payload.amount * 2\n  - dedupe:", code: .expression,
             at: "payload.amount * 2", message: "a condition must give true or false, this gives a number"),
        Case(name: "template expression type", replace: "  - dedupe:", with: "  - route: {topic: 'orders.${lower(1)}'}\n  - dedupe:",
             code: .expression, at: "1)}", message: "lower needs a string, got a number"),
        Case(name: "template expression", replace: "  - dedupe:", with: "  - route: {topic: 'orders.${lower(}'}\n  - dedupe:",
             code: .expression, at: "}'}", message: "expected a value, a field or '(', found end of expression"),
        Case(name: "template literal", replace: "  - dedupe:", with: "  - route: {topic: 'orders/${id}'}\n  - dedupe:",
             code: .invalidTopicName, at: "/${id}", message: "invalid character '/' in topic template"),
        Case(name: "two stage types", replace: "  - dedupe:", with: "  - filter: a > 1\n    key: id\n  - dedupe:", code: .stageType,
             at: "key: id", message: "stage 2 has 2 stage types (filter, key)"),
        Case(name: "no stage type", replace: "  - dedupe:", with: "  - id: lonely\n  - dedupe:", code: .stageType, at: "id: lonely",
             message: "stage 2 has no stage type"),
        Case(name: "unknown stage type", replace: "  - dedupe:", with: "  - dedup: {key: id}\n  - dedupe:", code: .unknownKey, at: "dedup:",
             message: "unknown key 'dedup' in stage 2", hint: "did you mean 'dedupe'?"),
        Case(name: "unknown input", replace: "  - dedupe:", with: "  - dedupe:\n      inputs: [outbx]", code: .unknownKey, at: "inputs",
             message: "unknown key 'inputs' in dedupe stage"),
        Case(name: "unknown input stage", replace: "  - dedupe:", with: "  - inputs: [outbx]\n    dedupe:", code: .unknownInput, at: "outbx",
             message: "unknown input 'outbx'", hint: "did you mean 'outbox'?"),
        Case(name: "duplicate stage id", replace: "  - dedupe:", with: "  - {id: twice, filter: a > 1}\n  - id: twice\n    dedupe:",
             code: .duplicateStageID, at: "twice", occurrence: 2, message: "duplicate stage id 'twice'"),
        Case(name: "cycle", replace: "  - dedupe:", with: "  - {id: a, inputs: [b], filter: x > 1}\n  - {id: b, inputs: [a], filter: x > 2}\n  - dedupe:",
             code: .graphCycle, at: "{id: a", message: "stages form a cycle: a → b → a", others: [.unreachableStage]),
        Case(name: "self input", replace: "  - dedupe:", with: "  - id: self\n    inputs: [self]\n    dedupe:", code: .graphCycle,
             at: "id: self", message: "stages form a cycle: self → self"),
        Case(name: "unknown route output", replace: "  - dedupe:",
             with: "  - {id: r, route: {outputs: {big: 'x > 1'}}}\n  - inputs: [r.bigg]\n    dedupe:", code: .unknownInput, at: "r.bigg",
             message: "route 'r' has no output 'bigg'", hint: "did you mean 'big'?"),
        Case(name: "outbox table not captured", replace: "outbox: {table: public.outbox}", with: "outbox: {table: public.events}",
             code: .invalidValue, at: "public.events", message: "the outbox table public.events is not one of source.postgres.tables"),
        Case(name: "compression level without compression", replace: "partitions: 3",
             with: "partitions: 3\n    compression: none\n    compression_level: 5", code: .conflictingOptions, at: "compression_level",
             message: "compression_level applies to zstd only"),
        Case(name: "recompression without compression", replace: "partitions: 3",
             with: "partitions: 3\n    compression: none\n    recompression_level: 19", code: .conflictingOptions, at: "recompression_level",
             message: "recompression_level applies to zstd only"),
        Case(name: "recompression level out of range", replace: "partitions: 3",
             with: "partitions: 3\n    recompression_level: 23", code: .invalidValue, at: "23",
             message: "23 is out of range: must be between 1 and 22"),
        Case(name: "total order over partitions", replace: "  - dedupe:", with: "  - order: total\n  - dedupe:", code: .conflictingOptions,
             at: "total", message: "order: total needs a single partition, but sink.log.partitions is 3"),
        Case(name: "bloom option in exact mode", replace: "window: 24h", with: "window: 24h\n      false_positive_rate: 0.1",
             code: .conflictingOptions, at: "false_positive_rate", message: "false_positive_rate applies to mode: bloom only"),
        Case(name: "unset variable", replace: "url: postgres://h/db", with: "url: postgres://${env:PG_USER}@h/db", code: .interpolation,
             at: "${env:PG_USER}", message: "environment variable PG_USER is not set", hint: "set it, or give a default: ${env:PG_USER:-value}"),
        Case(name: "yaml syntax", replace: "outbox: {table: public.outbox}", with: "outbox: {table: public.outbox", code: .yamlSyntax,
             at: "dedupe:", shift: 6, message: "invalid YAML: did not find expected ',' or '}'"),
        Case(name: "duplicate key", replace: "guarantee: exactly_once", with: "guarantee: exactly_once\nguarantee: at_least_once",
             code: .duplicateKey, at: "guarantee", occurrence: 2, message: "duplicate key 'guarantee' in a mapping",
             hint: "'guarantee' is already set at line 16; a key may appear once in a mapping"),
        Case(name: "nested duplicate key", replace: "partitions: 3", with: "partitions: 3\n    dir: ./other",
             code: .duplicateKey, at: "dir", occurrence: 2, message: "duplicate key 'dir' in a mapping"),
        Case(name: "invalid slot name", replace: "url: postgres://h/db", with: "url: postgres://h/db\n    slot: Orders-Slot", code: .invalidName,
             at: "Orders-Slot", message: "invalid name 'Orders-Slot'"),
        Case(name: "writing read-only metadata", replace: "  - dedupe:", with: "  - map: {set: {__lsn: \"'0/0'\"}}\n  - dedupe:",
             code: .invalidValue, at: "__lsn", message: "__lsn cannot be written"),
        Case(name: "snapshot of outbox tables only", replace: "tables: [public.outbox]", with: "tables: [public.outbox]\n    snapshot: initial",
             code: .invalidValue, at: "initial", message: "snapshot: initial has nothing to read: every table is an outbox table",
             hint: "old outbox rows are not events, so outbox tables are never snapshotted; set snapshot: never"),
        Case(name: "snapshot without exactly-once", replace: "tables: [public.outbox]\nstages:",
             with: "tables: [public.outbox, public.customers]\n    snapshot: initial_only\nstages:", code: .invalidValue,
             at: "initial_only", message: "snapshot: initial_only needs guarantee exactly_once",
             hint: "a snapshot's progress is committed with the rows it writes; set guarantee: exactly_once or snapshot: never",
             alsoReplace: ("guarantee: exactly_once", "guarantee: at_least_once")),
    ]

    @Test(arguments: cases)
    func reportsTheMistakeWhereItIs(_ example: Case) throws {
        let text = example.text
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.map(\.code.rawValue).sorted() == ([example.code] + example.others).map(\.rawValue).sorted(), "\(diagnostics)")
        let diagnostic = try #require(diagnostics.first { $0.code == example.code })
        #expect(diagnostic.code == example.code)
        #expect(diagnostic.message == example.message)
        #expect(diagnostic.location == Fixtures.location(of: example.at, in: text, occurrence: example.occurrence).shifted(by: example.shift))
        if let hint = example.hint { #expect(diagnostic.hint == hint) }
    }

    @Test func anExpressionInABlockScalarNamesTheColumnInTheExpression() {
        let text = Self.base.replacingOccurrences(of: "key: id", with: "key: |\n        id ==")
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.map(\.message) == ["expected a value, a field or '(', found end of expression (column 6 of the expression)"])
        #expect(diagnostics.first?.location == Fixtures.location(of: "|", in: text))
    }

    @Test func everyErrorIsReportedNotOnlyTheFirst() {
        let text = Self.base
            .replacingOccurrences(of: "window: 24h", with: "windw: 24h")
            .replacingOccurrences(of: "partitions: 3", with: "partitions: many")
            .replacingOccurrences(of: "key: id", with: "key: id ==")
            .replacingOccurrences(of: "guarantee: exactly_once", with: "guarantee: twice")
        let diagnostics = Fixtures.diagnostics(text)
        #expect(diagnostics.map(\.code) == [.expression, .unknownKey, .wrongType, .invalidValue])
        // In file order.
        #expect(diagnostics.map(\.location) == diagnostics.map(\.location).sorted())
    }

    @Test func theRenderingShowsTheLineACaretAndTheHint() {
        let text = Self.base.replacingOccurrences(of: "window: 24h", with: "windw: 24h")
        do {
            _ = try PipelineFile.parse(yaml: text, file: "pipelines/bad.yaml", environment: Fixtures.environment)
            Issue.record("the file loaded")
        } catch {
            let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let location = Fixtures.location(of: "windw", in: text)
            #expect(lines[0] == "pipelines/bad.yaml:\(location.line):\(location.column): error: unknown key 'windw' in dedupe stage")
            #expect(lines[1] == "      windw: 24h")
            #expect(lines[2] == String(repeating: " ", count: location.column - 1) + "^~~~~")
            #expect(lines[3] == "hint: did you mean 'window'?")
            #expect(lines[4] == "1 error")
        }
    }
}

@Suite struct RuntimeConfigTests {
    @Test func theMetricsAddressIsReadInItsLongAndShortForms() throws {
        for text in ["runtime:\n  metrics: {listen: '127.0.0.1:9464'}", "runtime:\n  metrics: '[::1]:9464'"] {
            let file = InvalidFileTests.base.replacingOccurrences(of: "guarantee: exactly_once", with: text)
            let config = try PipelineFile.parse(yaml: file, file: "p.yaml", environment: Fixtures.environment)
            let address = try #require(config.runtime.metricsListen)
            #expect(address.port == 9464)
            #expect(["127.0.0.1", "::1"].contains(address.host))
        }
        let without = try PipelineFile.parse(yaml: InvalidFileTests.base, file: "p.yaml", environment: Fixtures.environment)
        #expect(without.runtime.metricsListen == nil)
    }
}
