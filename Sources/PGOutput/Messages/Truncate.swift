import BinaryIO

extension PGOutputMessage {
    /// `T`: one TRUNCATE statement, with every truncated table that is published
    /// (cascaded tables too).
    public struct Truncate: Sendable, Hashable {
        /// The streamed transaction's xid, inside a Stream Start/Stop block.
        public var xid: UInt32?
        public var options: Options
        public var relationIDs: [UInt32]

        public init(xid: UInt32? = nil, options: Options = [], relationIDs: [UInt32]) {
            self.xid = xid
            self.options = options
            self.relationIDs = relationIDs
        }

        public struct Options: OptionSet, Hashable, Sendable {
            public var rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }
            /// TRUNCATE … CASCADE
            public static let cascade = Options(rawValue: 1)
            /// TRUNCATE … RESTART IDENTITY
            public static let restartIdentity = Options(rawValue: 2)
        }

        static func decode(from reader: inout MessageReader, xid: UInt32?) throws(ByteReadError) -> Self {
            let countOffset = reader.offset
            let count = try reader.readLength("relation count")
            let options = Options(rawValue: try reader.readByte("options"))
            try reader.requireRoom(forItems: count, minimumBytes: 4, "relation count", countOffset: countOffset)
            var relationIDs: [UInt32] = []
            relationIDs.reserveCapacity(count)
            for _ in 0..<count {
                relationIDs.append(try reader.readInteger("relation id"))
            }
            return Self(xid: xid, options: options, relationIDs: relationIDs)
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendStreamXID(xid)
            buffer.appendLength(relationIDs.count)
            buffer.append(options.rawValue)
            for id in relationIDs { buffer.appendInteger(id) }
        }
    }
}
