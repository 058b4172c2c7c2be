import Foundation
@testable import Pipeline

/// An event for expression tests: a JSON-like object plus metadata.
struct TestEvent: EventView {
    var fields: [String: EventValue]
    var meta: [MetadataField: EventValue] = [:]

    func value(at path: FieldPath) -> EventValue? {
        var current: EventValue = .object(fields)
        for segment in path.segments {
            switch (segment, current) {
            case (.name(let name), .object(let members)):
                guard let next = members[name] else { return nil }
                current = next
            case (.index(let position), .array(let items)):
                guard items.indices.contains(position) else { return nil }
                current = items[position]
            default:
                return nil
            }
        }
        return current
    }

    func metadata(_ field: MetadataField) -> EventValue { meta[field] ?? .null }
}

extension TestEvent {
    static let order = TestEvent(
        fields: [
            "id": .string("e-1"),
            "payload": .object([
                "amount": .decimal(Decimal(string: "120.50")!),
                "count": .int(3),
                "status": .string("Paid"),
                "tags": .array([.string("vip"), .string("eu")]),
                "note": .null,
                "odd key": .string("odd"),
            ]),
            "headers": .object(["type": .string("OrderCreated")]),
        ],
        meta: [.table: .string("public.outbox"), .op: .string("insert"), .lsn: .string("0/1A2B")])
}

func evaluate(_ text: String, on event: TestEvent = .order) throws -> EventValue {
    try EventExpression.parse(text).evaluate(on: event)
}
