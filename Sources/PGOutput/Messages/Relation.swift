import BinaryIO

extension PGOutputMessage {
    /// `R`: the shape of a table, sent before its first change in a session and again after
    /// anything that may have changed it. Columns are in the order tuples use; dropped and
    /// generated columns are left out, so never map them by attnum.
    public struct Relation: Sendable, Hashable {
        /// The streamed transaction's xid, inside a Stream Start/Stop block.
        public var xid: UInt32?
        /// The table's OID: changes refer to it.
        public var relationID: UInt32
        /// The schema; "" stands for pg_catalog.
        public var namespace: String
        public var name: String
        public var replicaIdentity: ReplicaIdentity
        public var columns: [Column]

        public init(xid: UInt32? = nil, relationID: UInt32, namespace: String, name: String, replicaIdentity: ReplicaIdentity, columns: [Column]) {
            self.xid = xid
            self.relationID = relationID
            self.namespace = namespace
            self.name = name
            self.replicaIdentity = replicaIdentity
            self.columns = columns
        }

        /// `relreplident`: which old values Update and Delete carry.
        public struct ReplicaIdentity: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
            public var rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }

            /// `d`: the primary key.
            public static let `default` = ReplicaIdentity(rawValue: 0x64)
            /// `n`: nothing.
            public static let nothing = ReplicaIdentity(rawValue: 0x6E)
            /// `f`: all columns.
            public static let full = ReplicaIdentity(rawValue: 0x66)
            /// `i`: the columns of a chosen unique index.
            public static let index = ReplicaIdentity(rawValue: 0x69)

            public var description: String {
                switch self {
                case .default: "default"
                case .nothing: "nothing"
                case .full: "full"
                case .index: "index"
                default: "unknown(\(rawValue))"
                }
            }
        }

        public struct Column: Sendable, Hashable {
            public var flags: Flags
            public var name: String
            /// The column's type OID (for a domain, the domain's OID).
            public var typeOID: UInt32
            /// atttypmod: -1 when the type has no modifier.
            public var typeModifier: Int32

            public init(flags: Flags = [], name: String, typeOID: UInt32, typeModifier: Int32 = -1) {
                self.flags = flags
                self.name = name
                self.typeOID = typeOID
                self.typeModifier = typeModifier
            }

            /// Part of the replica identity (every column, with replica identity full).
            public var isKey: Bool { flags.contains(.key) }

            public struct Flags: OptionSet, Hashable, Sendable {
                public var rawValue: UInt8
                public init(rawValue: UInt8) { self.rawValue = rawValue }
                public static let key = Flags(rawValue: 1)
            }
        }

        /// The smallest encoded column: flags, an empty name's NUL, type OID, typmod.
        static let minimumColumnSize = 1 + 1 + 4 + 4

        static func decode(from reader: inout MessageReader, xid: UInt32?) throws(ByteReadError) -> Self {
            let relationID: UInt32 = try reader.readInteger("relation id")
            let namespace = try reader.readString("namespace")
            let name = try reader.readString("relation name")
            let replicaIdentity = ReplicaIdentity(rawValue: try reader.readByte("replica identity"))
            let countOffset = reader.offset
            let count = try reader.readCount16("column count")
            try reader.requireRoom(forItems: count, minimumBytes: minimumColumnSize, "column count", countOffset: countOffset)
            var columns: [Column] = []
            columns.reserveCapacity(count)
            for _ in 0..<count {
                columns.append(
                    Column(
                        flags: Column.Flags(rawValue: try reader.readByte("column flags")),
                        name: try reader.readString("column name"),
                        typeOID: try reader.readInteger("column type OID"),
                        typeModifier: try reader.readInteger("column type modifier")
                    ))
            }
            return Self(xid: xid, relationID: relationID, namespace: namespace, name: name, replicaIdentity: replicaIdentity, columns: columns)
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendStreamXID(xid)
            buffer.appendInteger(relationID)
            buffer.appendString(namespace)
            buffer.appendString(name)
            buffer.append(replicaIdentity.rawValue)
            buffer.appendCount16(columns.count)
            for column in columns {
                buffer.append(column.flags.rawValue)
                buffer.appendString(column.name)
                buffer.appendInteger(column.typeOID)
                buffer.appendInteger(column.typeModifier)
            }
        }
    }
}
