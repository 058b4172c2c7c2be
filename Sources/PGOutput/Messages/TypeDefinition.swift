import BinaryIO

extension PGOutputMessage {
    /// `Y` (the protocol's "Type" message): names a non-builtin type (OID ≥ 10000, e.g. an
    /// enum or a domain) before a Relation uses it.
    public struct TypeDefinition: Sendable, Hashable {
        /// The streamed transaction's xid, inside a Stream Start/Stop block.
        public var xid: UInt32?
        public var typeOID: UInt32
        /// The schema; "" stands for pg_catalog.
        public var namespace: String
        /// The type's name; for a domain, Postgres sends its base type's name
        /// (a domain over int4 arrives as ""/"int4").
        public var name: String

        public init(xid: UInt32? = nil, typeOID: UInt32, namespace: String, name: String) {
            self.xid = xid
            self.typeOID = typeOID
            self.namespace = namespace
            self.name = name
        }

        static func decode(from reader: inout MessageReader, xid: UInt32?) throws(ByteReadError) -> Self {
            Self(
                xid: xid,
                typeOID: try reader.readInteger("type OID"),
                namespace: try reader.readString("namespace"),
                name: try reader.readString("type name")
            )
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendStreamXID(xid)
            buffer.appendInteger(typeOID)
            buffer.appendString(namespace)
            buffer.appendString(name)
        }
    }
}
