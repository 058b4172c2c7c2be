import Testing
import PostgresSource

/// Decodes `text` as a value of `oid` with a decoder that knows only the built-in types
/// unless given a registry.
func decodeValue(_ text: String, _ oid: UInt32, registry: PGTypeRegistry = PGTypeRegistry()) throws(PostgresError) -> PGValue {
    try PGValueDecoder(registry: registry).decode(text: text, typeOID: oid)
}

/// The decoding error for `text` as `oid`, or nil when it decodes.
func decodingError(_ text: String, _ oid: UInt32, registry: PGTypeRegistry = PGTypeRegistry()) -> PostgresError? {
    do {
        _ = try decodeValue(text, oid, registry: registry)
        return nil
    } catch {
        return error
    }
}

extension PGValue {
    var arrayValue: PGArray? {
        if case .array(let array) = self { return array }
        return nil
    }
}

/// Every suite of value decoding, so that `swift test --filter Values` runs them all.
@Suite enum Values {}
