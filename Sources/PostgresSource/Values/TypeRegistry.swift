/// What the decoder knows of the types that are not built in: enums, domains, arrays of
/// them, extension types. pgoutput's Type message names such a type but does not say what
/// kind it is, so the source fills this from pg_type (`load(oids:from:)`).
public struct PGTypeRegistry: Sendable {
    public struct TypeInfo: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// A base type the decoder has no decoder for (citext, hstore, PostGIS …): text.
            case base
            /// An enum: its label, as text.
            case enumeration
            /// A domain: decoded as its base type.
            case domain(baseOID: UInt32)
            /// An array type: decoded element by element as the element type.
            case array(elementOID: UInt32)
            /// Composite, range, multirange, pseudo types: their text, as text.
            case other
        }

        public var name: String
        public var kind: Kind

        public init(name: String, kind: Kind) {
            self.name = name
            self.kind = kind
        }

        /// From pg_type's columns: `typtype`, `typcategory`, `typbasetype`, `typelem`.
        public init(name: String, typtype: String, typcategory: String, baseTypeOID: UInt32, elementTypeOID: UInt32) {
            let kind: Kind =
                switch typtype {
                case "d": .domain(baseOID: baseTypeOID)
                case "e": .enumeration
                case "b" where typcategory == "A" && elementTypeOID != 0: .array(elementOID: elementTypeOID)
                case "b": .base
                default: .other
                }
            self.init(name: name, kind: kind)
        }
    }

    private var types: [UInt32: TypeInfo] = [:]

    public init() {}

    public subscript(oid: UInt32) -> TypeInfo? {
        get { types[oid] }
        set { types[oid] = newValue }
    }

    public var count: Int { types.count }
}
