import BinaryIO

/// The column values of one row, in the order of its Relation's columns.
public struct TupleData: Sendable, Hashable {
    public var columns: [TupleColumn]

    public init(_ columns: [TupleColumn]) { self.columns = columns }

    /// Every column takes at least its kind byte: a count larger than the bytes left is
    /// rejected before anything is allocated.
    static func decode(from reader: inout MessageReader) throws(ByteReadError) -> TupleData {
        let countOffset = reader.offset
        let count = try reader.readCount16("tuple column count")
        try reader.requireRoom(forItems: count, minimumBytes: 1, "tuple column count", countOffset: countOffset)
        var columns: [TupleColumn] = []
        columns.reserveCapacity(count)
        for _ in 0..<count {
            let kindOffset = reader.offset
            switch try reader.readByte("column kind") {
            case TupleColumn.Kind.text.rawValue:
                let length = try reader.readLength("text value length")
                columns.append(.text(try reader.readBytes(count: length, "text value")))
            case TupleColumn.Kind.null.rawValue:
                columns.append(.null)
            case TupleColumn.Kind.unchangedToast.rawValue:
                columns.append(.unchangedToast)
            case TupleColumn.Kind.binary.rawValue:
                let length = try reader.readLength("binary value length")
                columns.append(.binary(try reader.readBytes(count: length, "binary value")))
            case let kind:
                throw reader.failure(.invalidValue, at: kindOffset, "column kind must be 'n', 'u', 't' or 'b', found \(kind)")
            }
        }
        return TupleData(columns)
    }

    func encode(into buffer: inout [UInt8]) {
        buffer.appendCount16(columns.count)
        for column in columns {
            switch column {
            case .null:
                buffer.append(TupleColumn.Kind.null.rawValue)
            case .unchangedToast:
                buffer.append(TupleColumn.Kind.unchangedToast.rawValue)
            case .text(let bytes):
                buffer.append(TupleColumn.Kind.text.rawValue)
                buffer.appendLength(bytes.count)
                buffer.append(contentsOf: bytes)
            case .binary(let bytes):
                buffer.append(TupleColumn.Kind.binary.rawValue)
                buffer.appendLength(bytes.count)
                buffer.append(contentsOf: bytes)
            }
        }
    }
}

/// One column value of a tuple, undecoded: turning bytes into values by type OID is the
/// source module's job.
public enum TupleColumn: Sendable, Hashable {
    /// `n`: SQL NULL.
    case null
    /// `u`: a TOASTed value that did not change and was not sent. It is not NULL: take the value
    /// from the old tuple when there is one, else keep an explicit placeholder.
    case unchangedToast
    /// `t`: the type's text output, in the client encoding (UTF-8).
    case text(ArraySlice<UInt8>)
    /// `b`: the type's binary send format (with the `binary` option; types without a send
    /// function still arrive as text).
    case binary(ArraySlice<UInt8>)

    /// The wire byte of each kind.
    public enum Kind: UInt8, Sendable {
        case null = 0x6E  // n
        case unchangedToast = 0x75  // u
        case text = 0x74  // t
        case binary = 0x62  // b
    }

    public var kind: Kind {
        switch self {
        case .null: .null
        case .unchangedToast: .unchangedToast
        case .text: .text
        case .binary: .binary
        }
    }

    /// The bytes of a text or binary value; nil for null and unchanged TOAST.
    public var bytes: ArraySlice<UInt8>? {
        switch self {
        case .text(let bytes), .binary(let bytes): bytes
        case .null, .unchangedToast: nil
        }
    }
}
