import Foundation
import PGOutput
import PostgresSource
import SegmentLog
import Testing
@testable import Pipeline

/// `sink.postgres`: the inbox sink's block, its defaults and refusals, and the parts of the sink
/// that need no server (event ids, headers as JSON, the statements' parameters).
@Suite struct PostgresSinkConfigTests {
    static let environment = ConfigEnvironment.fixed([
        "OUTFLOW_PG_URL": "postgres://outflow@db/shop", "INBOX_URL": "postgresql://billing:inbox-pw-do-not-print@inbox-db/billing",
    ])

    static func file(_ sink: String, extra: String = "") -> String { KafkaSinkConfigTests.file(sink: sink, extra: extra) }

    @Test func theDefaults() throws {
        let config = try PipelineFile.parse(yaml: Self.file("postgres: {url: '${env:INBOX_URL}'}"), environment: Self.environment)
        let postgres = try #require(config.sink.postgres)
        #expect(config.sink.log == nil && config.sink.kafka == nil)
        #expect(postgres.url.value == "postgresql://billing:inbox-pw-do-not-print@inbox-db/billing")
        #expect(postgres.schema == "outflow")
        #expect(postgres.eventsTable == "inbox_events")
        #expect(postgres.upsertTable == nil)
        #expect(postgres.processedWindow.milliseconds == 24 * 3600 * 1000)
        #expect(postgres.createTables)
        #expect(config.sink.minCommitInterval.milliseconds == 5)
        #expect(config.explanation.contains("sink: postgres ${env:INBOX_URL}, schema outflow, events in inbox_events, processed ids kept 24h"))
        #expect(config.resolved["sink"]?["postgres"]?["events_table"] == .string("inbox_events"))
        for shown in [config.explanation, config.resolved.json.rendered(), config.graphDOT, config.sink.summary] {
            #expect(!shown.contains("inbox-pw-do-not-print"))
        }
    }

    @Test func upsertOnlyWithAShorthandAndAWindow() throws {
        let config = try PipelineFile.parse(yaml: Self.file("""
            postgres:
              url: ${env:INBOX_URL}
              schema: billing_inbox
              events_table: false
              upsert: latest_orders
              processed_window: 2h
              create_tables: false
            """), environment: Self.environment)
        let postgres = try #require(config.sink.postgres)
        #expect(postgres.eventsTable == nil)
        #expect(postgres.upsertTable == "latest_orders")
        #expect(postgres.schema == "billing_inbox")
        #expect(postgres.processedWindow.milliseconds == 2 * 3600 * 1000)
        #expect(!postgres.createTables)
    }

    @Test func aLiteralURLIsShownWithoutItsPassword() throws {
        let config = try PipelineFile.parse(
            yaml: Self.file("postgres: {url: 'postgresql://billing:literal-pw@inbox-db/billing'}"), environment: Self.environment)
        let summary = try #require(config.sink.postgres).displayURL
        #expect(!summary.contains("literal-pw"))
        #expect(summary.contains("inbox-db"))
    }

    @Test func malformedBlocksAreRefusedWithTheirPosition() {
        let nowhere = Self.file("postgres: {url: '${env:INBOX_URL}', events_table: false}")
        let diagnostics = Fixtures.diagnostics(nowhere, environment: Self.environment)
        #expect(diagnostics.map(\.message) == ["sink.postgres writes nowhere: events_table is false and there is no upsert"])
        #expect(diagnostics.first?.location == Fixtures.location(of: "events_table", in: nowhere))

        let badName = Self.file("postgres: {url: '${env:INBOX_URL}', schema: 'Bad-Schema'}")
        let nameDiagnostics = Fixtures.diagnostics(badName, environment: Self.environment)
        #expect(nameDiagnostics.map(\.code) == [.invalidName])
        #expect(nameDiagnostics.first?.location == Fixtures.location(of: "'Bad-Schema'", in: badName))

        let same = Self.file("postgres: {url: '${env:INBOX_URL}', events_table: orders, upsert: {table: orders}}")
        #expect(Fixtures.diagnostics(same, environment: Self.environment).map(\.message) == ["upsert table orders is also used for something else"])

        let own = Self.file("postgres: {url: '${env:INBOX_URL}', events_table: checkpoints}")
        #expect(Fixtures.diagnostics(own, environment: Self.environment).map(\.message) == ["checkpoints is one of the sink's own tables"])

        let noURL = Self.file("postgres: {schema: inbox}")
        #expect(Fixtures.diagnostics(noURL, environment: Self.environment).map(\.code) == [.missingField])

        let typo = Self.file("postgres: {url: '${env:INBOX_URL}', proccessed_window: 1h}")
        #expect(Fixtures.diagnostics(typo, environment: Self.environment).map(\.code) == [.unknownKey])

        let trueTable = Self.file("postgres: {url: '${env:INBOX_URL}', events_table: true}")
        #expect(Fixtures.diagnostics(trueTable, environment: Self.environment).map(\.message) == ["events_table: true names no table"])

        let zeroWindow = Self.file("postgres: {url: '${env:INBOX_URL}', processed_window: 0s}")
        #expect(Fixtures.diagnostics(zeroWindow, environment: Self.environment).map(\.message) == ["processed_window must be longer than 0"])
    }

    @Test func exactlyOneSinkAndNoServeOrChangelog() {
        let both = Self.file("log: {dir: d}\npostgres: {url: '${env:INBOX_URL}'}")
        #expect(Fixtures.diagnostics(both, environment: Self.environment).map(\.message) == ["sink has both log and postgres"])
        let serve = Self.file("postgres: {url: '${env:INBOX_URL}'}", extra: "serve: {listen: '127.0.0.1:0'}")
        #expect(Fixtures.diagnostics(serve, environment: Self.environment).map(\.message) == ["serve needs sink.log: with sink.postgres, consumers read the target database"])
    }

    @Test func theSchemaKnowsThePostgresSink() {
        let schema = PipelineSchema.text
        for key in ["events_table", "upsert", "processed_window", "create_tables"] {
            #expect(schema.contains("\"\(key)\""))
        }
    }

    // MARK: Pure parts of the sink

    @Test func anEventsIdIsItsIdHeaderOrItsSourcePosition() {
        let lsn = LSN(0x1_0000_00A0)
        #expect(InboxRow.eventID(idHeader: Array("5f1c-uuid".utf8), commitLSN: lsn, ordinal: 3) == "5f1c-uuid")
        #expect(InboxRow.eventID(idHeader: nil, commitLSN: lsn, ordinal: 3) == "1/A0/3")
        #expect(InboxRow.eventID(idHeader: [], commitLSN: lsn, ordinal: 0) == "1/A0/0")
        // Not UTF-8: the position, which a redelivery makes again.
        #expect(InboxRow.eventID(idHeader: [0xFF, 0xFE], commitLSN: lsn, ordinal: 1) == "1/A0/1")
        #expect(InboxRow.eventID(idHeader: nil, commitLSN: lsn, ordinal: 1) == InboxRow.eventID(idHeader: nil, commitLSN: lsn, ordinal: 1))
        #expect(InboxRow.eventID(idHeader: nil, commitLSN: lsn, ordinal: 1) != InboxRow.eventID(idHeader: nil, commitLSN: LSN(0x1_0000_00A8), ordinal: 1))
    }

    @Test func headersBecomeAJSONObject() throws {
        let json = InboxRow.headersText([
            RecordHeader(key: "id", value: Array("e-1".utf8)), RecordHeader(key: "type", value: Array("Created".utf8)),
            RecordHeader(key: "trace", value: nil), RecordHeader(key: "raw", value: [0xFF, 0x01]),
            RecordHeader(key: "tag", value: Array("a".utf8)), RecordHeader(key: "tag", value: Array("b".utf8)),
        ])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["id"] as? String == "e-1")
        #expect(object["type"] as? String == "Created")
        #expect(object["trace"] is NSNull)
        #expect(object["raw"] as? String == "\\xff01")
        #expect(object["tag"] as? [String] == ["a", "b"])
    }

    @Test func byteaHexReadsBack() {
        #expect(PostgresSink.bytes(fromByteaHex: "\\x00ff10") == [0x00, 0xFF, 0x10])
        #expect(PostgresSink.bytes(fromByteaHex: "\\x") == [])
        #expect(PostgresSink.bytes(fromByteaHex: "00ff") == nil)
        #expect(PostgresSink.bytes(fromByteaHex: "\\x0g") == nil)
        #expect(PostgresSink.bytes(fromByteaHex: "\\x0") == nil)
    }

    @Test func rowsBecomeOneArrayParameterPerColumn() throws {
        let rows = [
            InboxRow(eventID: "a", topic: "t", key: Array("k".utf8), value: nil, headersJSON: "{}", commitLSN: LSN(0x10), xid: 7,
                     commitTime: PostgresTimestamp(rawValue: 1), ordinal: 0),
            InboxRow(eventID: "b", topic: "t", key: nil, value: [1, 2], headersJSON: "{}", commitLSN: LSN(0x20), xid: 8,
                     commitTime: PostgresTimestamp(rawValue: 2), ordinal: 1),
        ]
        let parameters = InboxRow.parameters(rows, pipeline: "orders")
        #expect(parameters.count == 11)
        #expect(parameters[0].bytes == Array("orders".utf8))
        // A bytea[] with a NULL: one dimension, the has-null flag, element type 17, two elements,
        // lower bound 1, then the key's length and byte, then -1.
        let keys = try #require(parameters[3].bytes)
        #expect(parameters[3].typeOID == 1001)
        #expect(keys == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 17, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, UInt8(ascii: "k"), 0xFF, 0xFF, 0xFF, 0xFF])
        // The batch's highest commit LSN, as pg_lsn.
        #expect(parameters[10].typeOID == 3220)
        #expect(parameters[10].bytes == [0, 0, 0, 0, 0, 0, 0, 0x20])
    }

    @Test func theStatementsNameTheConfiguredTables() {
        let statements = PostgresSinkStatements(schema: "inbox", eventsTable: nil, upsertTable: "latest")
        #expect(!statements.writeRows.contains("inbox_events"))
        #expect(statements.writeRows.contains("\"inbox\".\"latest\""))
        #expect(statements.writeRows.contains("SELECT count(*) FROM fresh"))
        #expect(statements.creation.count == 6)
        #expect(statements.required.map(\.table) == [
            "\"inbox\".\"latest\"", "\"inbox\".\"processed_messages\"", "\"inbox\".\"checkpoints\"", "\"inbox\".\"checkpoint_history\"",
        ])
    }
}
