/// Decodes column values from the text pgoutput sends (each type's output function) by the
/// column's type OID.
///
/// The text must be what a session with `DateStyle=ISO` and `IntervalStyle=postgres` prints
/// (what Postgres' own logical replication subscribers ask for); any `TimeZone` works, and any
/// `extra_float_digits` (floats are read exactly whatever their digits). The binary format is
/// not decoded: the source must not ask pgoutput for `binary 'true'`.
///
/// The typmod of a column is not needed: the text already shows its effect (numeric scale,
/// bpchar padding, fractional-second precision).
public struct PGValueDecoder: Sendable {
    public var registry: PGTypeRegistry

    /// Arrays nest at most this deep, as in Postgres (MAXDIM).
    public static let maxArrayDimensions = 6
    /// Domains over domains are followed this far; a cycle (which Postgres forbids) ends as text.
    static let maxDomainHops = 32

    public init(registry: PGTypeRegistry = PGTypeRegistry()) {
        self.registry = registry
    }

    /// Arrays whose elements are arrays again (an array of a domain over an array type, each
    /// element printed as its own quoted `{…}`) are followed this deep.
    static let maxArrayNesting = 4

    public func decode(text: UnsafeBufferPointer<UInt8>, typeOID: UInt32) throws(PostgresError) -> PGValue {
        try decode(text, typeOID: typeOID, arrayNesting: 0)
    }

    func decode(_ text: UnsafeBufferPointer<UInt8>, typeOID: UInt32, arrayNesting: Int) throws(PostgresError) -> PGValue {
        switch resolve(typeOID) {
        case .scalar(let kind, let name):
            return try ScalarDecoding.decode(kind, text, typeName: name)
        case .array(let elementOID, let name):
            guard arrayNesting < Self.maxArrayNesting else {
                throw PostgresError.invalidValue(name, text, "arrays nested more than \(Self.maxArrayNesting) deep")
            }
            var parser = ArrayParser(
                text: text, typeName: name,
                delimiter: elementOID == BuiltinTypeOID.box ? UInt8(ascii: ";") : UInt8(ascii: ","),
                maxDimensions: Self.maxArrayDimensions)
            let array: PGArray
            switch resolve(elementOID) {
            case .scalar(let kind, let elementName):
                array = try parser.parse(elementTypeOID: elementOID) { elementText throws(PostgresError) in
                    try ScalarDecoding.decode(kind, elementText, typeName: elementName)
                }
            case .array:
                array = try parser.parse(elementTypeOID: elementOID) { elementText throws(PostgresError) in
                    try decode(elementText, typeOID: elementOID, arrayNesting: arrayNesting + 1)
                }
            }
            return .array(array)
        }
    }

    public func decode(text: UnsafeRawBufferPointer, typeOID: UInt32) throws(PostgresError) -> PGValue {
        try decode(text: text.assumingMemoryBound(to: UInt8.self), typeOID: typeOID)
    }

    /// For `[UInt8]`, `ArraySlice<UInt8>`, `String.UTF8View` and other byte collections.
    public func decode(text: some Collection<UInt8>, typeOID: UInt32) throws(PostgresError) -> PGValue {
        let result = text.withContiguousStorageIfAvailable { buffer in
            Result { () throws(PostgresError) in try decode(text: buffer, typeOID: typeOID) }
        }
        if let result { return try result.get() }
        let copy = Array(text)
        return try copy.withUnsafeBufferPointer { buffer in
            Result { () throws(PostgresError) in try decode(text: buffer, typeOID: typeOID) }
        }.get()
    }

    public func decode(text: String, typeOID: UInt32) throws(PostgresError) -> PGValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(PostgresError) in try decode(text: buffer, typeOID: typeOID) }
        }.get()
    }

    /// The type's name as the decoder knows it (for messages).
    public func typeName(of oid: UInt32) -> String {
        switch resolve(oid) {
        case .scalar(_, let name), .array(_, let name): name
        }
    }

    enum ResolvedType {
        case scalar(ScalarKind, name: String)
        case array(elementOID: UInt32, name: String)
    }

    /// What decodes `oid`: built-in types first (their OIDs are fixed), then the registry;
    /// domains resolve to their base type but keep their own name for messages.
    func resolve(_ oid: UInt32) -> ResolvedType {
        var current = oid
        var name: String? = nil
        if let (kind, builtinName) = BuiltinTypes.common(oid) { return .scalar(kind, name: builtinName) }
        for _ in 0..<Self.maxDomainHops {
            if let builtin = BuiltinTypes.byOID[current] {
                switch builtin.kind {
                case .scalar(let kind): return .scalar(kind, name: name ?? builtin.name)
                case .array(let element): return .array(elementOID: element, name: name ?? builtin.name)
                }
            }
            guard let info = registry[current] else {
                return .scalar(.text, name: name ?? "type \(oid)")
            }
            switch info.kind {
            case .base, .enumeration, .other:
                return .scalar(.text, name: name ?? info.name)
            case .array(let element):
                return .array(elementOID: element, name: name ?? info.name)
            case .domain(let base):
                name = name ?? info.name
                current = base
            }
        }
        return .scalar(.text, name: name ?? "type \(oid)")
    }
}
