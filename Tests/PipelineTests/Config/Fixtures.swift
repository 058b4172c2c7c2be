import Foundation
import Testing
@testable import Pipeline

enum Fixtures {
    /// The package root, from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let examplePath = packageRoot.appendingPathComponent("pipelines/outbox.yaml").path

    static let environment = ConfigEnvironment.fixed(["OUTFLOW_PG_URL": "postgres://outflow:s3cr3t-pw@db:5432/shop"])

    /// Every section and stage type with most options set.
    static let full = """
    version: 1
    name: shop.events_v2
    x-owner: team-orders
    source:
      postgres:
        url: "host=db user=outflow password=${env:PG_PASSWORD}"
        slot: shop_events
        publication: shop_events_pub
        tables: [public.outbox, sales.orders]
        publish: [insert, update]
        create_missing: false
        status_interval: 5s
        changelog: {retention: 3d, max_bytes: 10GiB}
    stages:
      - id: events
        outbox:
          table: public.outbox
          columns: {id: event_id, aggregate_type: kind, aggregate_id: entity_id, type: event_type, payload: body}
          headers: {tenant_id: tenant}
          on_update: fail
          on_delete: warn_drop
          tombstone_on_empty_payload: true
      - id: paid
        x-note: only money movements
        filter: {condition: "headers.type in ['OrderPaid', 'OrderRefunded'] and payload.amount > 0"}
      - id: shape
        map:
          rename: {payload.amt: payload.amount}
          set: {headers.source: "'outflow'", __key: payload.order_id}
          drop: [payload.internal]
      - id: split
        route:
          outputs:
            big: payload.amount >= 1000
            small: payload.amount < 1000
          unmatched: fail
      - id: big_topic
        inputs: [split.big]
        route: {topic: "orders.big.${lower(headers.type)}"}
      - id: small_topic
        inputs: [split.small]
        route:
          by: headers.type
          topics: {OrderPaid: orders.paid, OrderRefunded: orders.refunded}
          unmatched: drop
      - id: rekey
        inputs: [big_topic, small_topic]
        key: payload.customer_id
      - dedupe: {key: "__key", window: 1h30m, max_entries: 5000, mode: bloom, false_positive_rate: 0.01}
      - order: per_key
      - batch: {records: 100, bytes: 256KiB, linger: 50ms}
    sink:
      log:
        dir: /var/lib/outflow/log
        x-reviewed: true
        partitions: 6
        compression: zstd
        compression_level: 9
        segment_bytes: 64MiB
        segment_ms: 1h
        retention: 30d
        retention_bytes: 100GB
        min_commit_interval: 20ms
    guarantee: at_least_once
    dead_letter: shop.failed
    """

    static let fullEnvironment = ConfigEnvironment.fixed(["PG_PASSWORD": "correct-horse-battery"])

    /// The file and line:column where `needle` first occurs in `text`: the expected place
    /// of a diagnostic about it, found from the text itself.
    static func location(of needle: String, in text: String, occurrence: Int = 1, file: String = "pipeline.yaml") -> FileLocation {
        var found = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var searchStart = line.startIndex
            while let range = line[searchStart...].range(of: needle) {
                found += 1
                if found == occurrence {
                    return FileLocation(file: file, line: index + 1, column: line.unicodeScalars.distance(from: line.startIndex, to: range.lowerBound) + 1)
                }
                searchStart = range.upperBound
            }
        }
        Issue.record("'\(needle)' is not in the text")
        return FileLocation(file: file, line: 0, column: 0)
    }

    /// The errors of a file that must not load.
    static func diagnostics(_ text: String, environment: ConfigEnvironment = Fixtures.environment) -> [PipelineDiagnostic] {
        do {
            _ = try PipelineFile.parse(yaml: text, environment: environment)
            return []
        } catch {
            return error.diagnostics
        }
    }
}

extension ConfigValue {
    /// The same tree with every member marked as written in the file.
    var withoutDefaultMarks: ConfigValue {
        switch self {
        case .scalar: self
        case .list(let items): .list(items.map(\.withoutDefaultMarks))
        case .object(let members):
            .object(members.map { ConfigValue.Member(key: $0.key, value: $0.value.withoutDefaultMarks, isDefault: false) })
        }
    }
}
