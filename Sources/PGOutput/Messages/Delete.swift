import BinaryIO

extension PGOutputMessage {
    /// `D`: a deleted row, identified by its replica identity key (`.key`) or, with replica
    /// identity full, by the whole old row (`.oldRow`).
    public struct Delete: Sendable, Hashable {
        /// The streamed transaction's xid, inside a Stream Start/Stop block.
        public var xid: UInt32?
        public var relationID: UInt32
        public var old: OldTuple

        public init(xid: UInt32? = nil, relationID: UInt32, old: OldTuple) {
            self.xid = xid
            self.relationID = relationID
            self.old = old
        }

        static func decode(from reader: inout MessageReader, xid: UInt32?) throws(ByteReadError) -> Self {
            let relationID: UInt32 = try reader.readInteger("relation id")
            let markerOffset = reader.offset
            let old: OldTuple
            switch try reader.readByte("tuple marker") {
            case TupleMarker.key.rawValue: old = .key(try .decode(from: &reader))
            case TupleMarker.oldRow.rawValue: old = .oldRow(try .decode(from: &reader))
            case let marker: throw reader.failure(.invalidValue, at: markerOffset, "expected tuple marker 'K' or 'O', found \(marker)")
            }
            return Self(xid: xid, relationID: relationID, old: old)
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendStreamXID(xid)
            buffer.appendInteger(relationID)
            old.encode(into: &buffer)
        }
    }
}
