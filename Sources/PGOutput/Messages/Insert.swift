import BinaryIO

extension PGOutputMessage {
    /// `I`: a new row.
    public struct Insert: Sendable, Hashable {
        /// The streamed transaction's xid, inside a Stream Start/Stop block.
        public var xid: UInt32?
        public var relationID: UInt32
        public var newTuple: TupleData

        public init(xid: UInt32? = nil, relationID: UInt32, newTuple: TupleData) {
            self.xid = xid
            self.relationID = relationID
            self.newTuple = newTuple
        }

        static func decode(from reader: inout MessageReader, xid: UInt32?) throws(ByteReadError) -> Self {
            let relationID: UInt32 = try reader.readInteger("relation id")
            try reader.expectTupleMarker(.new)
            return Self(xid: xid, relationID: relationID, newTuple: try .decode(from: &reader))
        }

        func encode(into buffer: inout [UInt8]) {
            buffer.appendStreamXID(xid)
            buffer.appendInteger(relationID)
            buffer.append(TupleMarker.new.rawValue)
            newTuple.encode(into: &buffer)
        }
    }

    /// The old values an Update or Delete carries, per the table's replica identity.
    public enum OldTuple: Sendable, Hashable {
        /// `K`: the replica identity key columns (other columns are null).
        case key(TupleData)
        /// `O`: the whole old row (replica identity full).
        case oldRow(TupleData)

        public var tuple: TupleData {
            switch self {
            case .key(let tuple), .oldRow(let tuple): tuple
            }
        }

        func encode(into buffer: inout [UInt8]) {
            switch self {
            case .key(let tuple):
                buffer.append(TupleMarker.key.rawValue)
                tuple.encode(into: &buffer)
            case .oldRow(let tuple):
                buffer.append(TupleMarker.oldRow.rawValue)
                tuple.encode(into: &buffer)
            }
        }
    }
}

/// The byte before a TupleData in Insert, Update and Delete.
enum TupleMarker: UInt8 {
    case new = 0x4E  // N
    case key = 0x4B  // K
    case oldRow = 0x4F  // O
}

extension ByteReader {
    mutating func expectTupleMarker(_ marker: TupleMarker) throws(Failure) {
        let at = offset
        let byte = try readByte("tuple marker")
        guard byte == marker.rawValue else {
            throw failure(.invalidValue, at: at, "expected tuple marker '\(UnicodeScalar(marker.rawValue))', found \(byte)")
        }
    }
}
