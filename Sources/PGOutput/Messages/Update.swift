import BinaryIO

extension PGOutputMessage {
    /// `U`: a changed row.
    ///
    /// With replica identity default or index, `old` is a `.key` tuple only when the key changed
    /// (or a key column is TOASTed out of line); with full it is an `.oldRow`. `newTuple` may hold
    /// `.unchangedToast` columns.
    public struct Update: Sendable, Hashable {
        /// The streamed transaction's xid, inside a Stream Start/Stop block.
        public var xid: UInt32?
        public var relationID: UInt32
        public var old: OldTuple?
        public var newTuple: TupleData

        public init(xid: UInt32? = nil, relationID: UInt32, old: OldTuple? = nil, newTuple: TupleData) {
            self.xid = xid
            self.relationID = relationID
            self.old = old
            self.newTuple = newTuple
        }

        static func decode(from reader: inout MessageReader, xid: UInt32?) throws(ByteReadError) -> Self {
            let relationID: UInt32 = try reader.readInteger("relation id")
            var old: OldTuple?
            var markerOffset = reader.offset
            var marker = try reader.readByte("tuple marker")
            switch marker {
            case TupleMarker.key.rawValue, TupleMarker.oldRow.rawValue:
                let tuple = try TupleData.decode(from: &reader)
                old = marker == TupleMarker.key.rawValue ? .key(tuple) : .oldRow(tuple)
                markerOffset = reader.offset
                marker = try reader.readByte("tuple marker")
                guard marker == TupleMarker.new.rawValue else {
                    throw reader.failure(.invalidValue, at: markerOffset, "expected tuple marker 'N' after the old tuple, found \(marker)")
                }
            case TupleMarker.new.rawValue:
                break
            default:
                throw reader.failure(.invalidValue, at: markerOffset, "expected tuple marker 'K', 'O' or 'N', found \(marker)")
            }
            return Self(xid: xid, relationID: relationID, old: old, newTuple: try .decode(from: &reader))
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendStreamXID(xid)
            buffer.appendInteger(relationID)
            old?.encode(into: &buffer)
            buffer.append(TupleMarker.new.rawValue)
            newTuple.encode(into: &buffer)
        }
    }
}
