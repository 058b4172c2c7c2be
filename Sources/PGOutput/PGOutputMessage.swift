import BinaryIO

/// One pgoutput message: the payload of one XLogData frame, protocol versions 1 to 4.
///
/// Decode with `PGOutputDecoder` (which tracks Stream Start/Stop for you) or with the stateless
/// `decode(from:context:)`. Byte runs (column values, logical message content) are slices of
/// the input: they share its storage and keep it alive; their indices start where the value
/// sits in the input, not at 0.
///
/// Strings (names, prefixes, gids) are decoded as UTF-8, and invalid UTF-8 is an error
/// (`PGOutputError.Code.invalidUTF8`) rather than repaired: a replication connection runs with
/// client_encoding UTF8, so anything else is corruption, and replacement characters would lose
/// data silently. Column values are never decoded here: they stay bytes.
public enum PGOutputMessage: Sendable, Hashable {
    case begin(Begin)
    case commit(Commit)
    case origin(Origin)
    case relation(Relation)
    case type(TypeDefinition)
    case insert(Insert)
    case update(Update)
    case delete(Delete)
    case truncate(Truncate)
    /// A logical decoding message (`pg_logical_emit_message`), sent when `messages` is on.
    case message(LogicalMessage)
    case streamStart(StreamStart)
    case streamStop
    case streamCommit(StreamCommit)
    case streamAbort(StreamAbort)
    case beginPrepare(BeginPrepare)
    case prepare(Prepare)
    case commitPrepared(CommitPrepared)
    case rollbackPrepared(RollbackPrepared)
    /// Same fields as Prepare: the end of a streamed transaction that was prepared.
    case streamPrepare(Prepare)
    /// A tag this decoder does not know (a newer server?): log it and skip it.
    case unknown(tag: UInt8, body: ArraySlice<UInt8>)

    /// The first byte of each message.
    public enum Tag: UInt8, Sendable, CaseIterable {
        case begin = 0x42  // B
        case commit = 0x43  // C
        case origin = 0x4F  // O
        case relation = 0x52  // R
        case type = 0x59  // Y
        case insert = 0x49  // I
        case update = 0x55  // U
        case delete = 0x44  // D
        case truncate = 0x54  // T
        case message = 0x4D  // M
        case streamStart = 0x53  // S
        case streamStop = 0x45  // E
        case streamCommit = 0x63  // c
        case streamAbort = 0x41  // A
        case beginPrepare = 0x62  // b
        case prepare = 0x50  // P
        case commitPrepared = 0x4B  // K
        case rollbackPrepared = 0x72  // r
        case streamPrepare = 0x70  // p

        /// The message's name in the PostgreSQL documentation, for errors and logs.
        public var name: StaticString {
            switch self {
            case .begin: "Begin"
            case .commit: "Commit"
            case .origin: "Origin"
            case .relation: "Relation"
            case .type: "Type"
            case .insert: "Insert"
            case .update: "Update"
            case .delete: "Delete"
            case .truncate: "Truncate"
            case .message: "Message"
            case .streamStart: "Stream Start"
            case .streamStop: "Stream Stop"
            case .streamCommit: "Stream Commit"
            case .streamAbort: "Stream Abort"
            case .beginPrepare: "Begin Prepare"
            case .prepare: "Prepare"
            case .commitPrepared: "Commit Prepared"
            case .rollbackPrepared: "Rollback Prepared"
            case .streamPrepare: "Stream Prepare"
            }
        }
    }

    /// What the wire format leaves to the connection: it cannot be read off the bytes.
    public struct DecodingContext: Sendable, Hashable {
        /// Between Stream Start and Stream Stop: Relation, Type, Insert, Update, Delete,
        /// Truncate and Message carry the xid of the streamed transaction first.
        public var inStreamBlock: Bool
        /// Stream Abort carries abort_lsn and abort_ts: protocol 4 with streaming = parallel.
        public var streamAbortHasAbortInfo: Bool

        public init(inStreamBlock: Bool = false, streamAbortHasAbortInfo: Bool = false) {
            self.inStreamBlock = inStreamBlock
            self.streamAbortHasAbortInfo = streamAbortHasAbortInfo
        }
    }

    /// The tag this message is sent with.
    public var tagByte: UInt8 {
        switch self {
        case .begin: Tag.begin.rawValue
        case .commit: Tag.commit.rawValue
        case .origin: Tag.origin.rawValue
        case .relation: Tag.relation.rawValue
        case .type: Tag.type.rawValue
        case .insert: Tag.insert.rawValue
        case .update: Tag.update.rawValue
        case .delete: Tag.delete.rawValue
        case .truncate: Tag.truncate.rawValue
        case .message: Tag.message.rawValue
        case .streamStart: Tag.streamStart.rawValue
        case .streamStop: Tag.streamStop.rawValue
        case .streamCommit: Tag.streamCommit.rawValue
        case .streamAbort: Tag.streamAbort.rawValue
        case .beginPrepare: Tag.beginPrepare.rawValue
        case .prepare: Tag.prepare.rawValue
        case .commitPrepared: Tag.commitPrepared.rawValue
        case .rollbackPrepared: Tag.rollbackPrepared.rawValue
        case .streamPrepare: Tag.streamPrepare.rawValue
        case .unknown(let tag, _): tag
        }
    }

    /// Decodes one message; every byte of `bytes` must belong to it.
    ///
    /// Error offsets count from the first byte of `bytes` (the tag).
    public static func decode(from bytes: ArraySlice<UInt8>, context: DecodingContext = .init()) throws(PGOutputError) -> PGOutputMessage {
        guard let first = bytes.first else {
            throw PGOutputError(code: .empty, messageName: "pgoutput message", offset: 0, detail: "no tag byte")
        }
        guard let tag = Tag(rawValue: first) else {
            return .unknown(tag: first, body: bytes.dropFirst())
        }
        do {
            return try decode(tag, from: bytes, context: context)
        } catch {
            throw PGOutputError(error, messageName: tag.name.description)
        }
    }

    /// The message with `tag` in `bytes` (tag byte included).
    private static func decode(_ tag: Tag, from bytes: ArraySlice<UInt8>, context: DecodingContext) throws(ByteReadError) -> PGOutputMessage {
        var reader = MessageReader(bytes)
        _ = try reader.readByte("tag")
        let xid: UInt32? = context.inStreamBlock && tag.carriesStreamXID ? try reader.readInteger("xid") : nil
        let message: PGOutputMessage
        switch tag {
        case .begin: message = .begin(try .decode(from: &reader))
        case .commit: message = .commit(try .decode(from: &reader))
        case .origin: message = .origin(try .decode(from: &reader))
        case .relation: message = .relation(try .decode(from: &reader, xid: xid))
        case .type: message = .type(try .decode(from: &reader, xid: xid))
        case .insert: message = .insert(try .decode(from: &reader, xid: xid))
        case .update: message = .update(try .decode(from: &reader, xid: xid))
        case .delete: message = .delete(try .decode(from: &reader, xid: xid))
        case .truncate: message = .truncate(try .decode(from: &reader, xid: xid))
        case .message: message = .message(try .decode(from: &reader, xid: xid))
        case .streamStart: message = .streamStart(try .decode(from: &reader))
        case .streamStop: message = .streamStop
        case .streamCommit: message = .streamCommit(try .decode(from: &reader))
        case .streamAbort: message = .streamAbort(try .decode(from: &reader, hasAbortInfo: context.streamAbortHasAbortInfo))
        case .beginPrepare: message = .beginPrepare(try .decode(from: &reader))
        case .prepare: message = .prepare(try .decode(from: &reader))
        case .commitPrepared: message = .commitPrepared(try .decode(from: &reader))
        case .rollbackPrepared: message = .rollbackPrepared(try .decode(from: &reader))
        case .streamPrepare: message = .streamPrepare(try .decode(from: &reader))
        }
        try reader.expectEnd()
        return message
    }

    public static func decode(from bytes: [UInt8], context: DecodingContext = .init()) throws(PGOutputError) -> PGOutputMessage {
        try decode(from: bytes[...], context: context)
    }

    /// The message as pgoutput sends it (for tests, the fuzzer's corpus and benchmarks).
    ///
    /// The optional xid of change messages and Stream Abort's abort info are written when
    /// present, so `decode(from: m.encode(), context:)` gives `m` back with the context that
    /// matches: `inStreamBlock` when the xid is set, `streamAbortHasAbortInfo` when abort info is.
    public func encode(into buffer: inout [UInt8]) {
        buffer.append(tagByte)
        switch self {
        case .begin(let m): m.encode(into: &buffer)
        case .commit(let m): m.encode(into: &buffer)
        case .origin(let m): m.encode(into: &buffer)
        case .relation(let m): m.encode(into: &buffer)
        case .type(let m): m.encode(into: &buffer)
        case .insert(let m): m.encode(into: &buffer)
        case .update(let m): m.encode(into: &buffer)
        case .delete(let m): m.encode(into: &buffer)
        case .truncate(let m): m.encode(into: &buffer)
        case .message(let m): m.encode(into: &buffer)
        case .streamStart(let m): m.encode(into: &buffer)
        case .streamStop: break
        case .streamCommit(let m): m.encode(into: &buffer)
        case .streamAbort(let m): m.encode(into: &buffer)
        case .beginPrepare(let m): m.encode(into: &buffer)
        case .prepare(let m): m.encode(into: &buffer)
        case .commitPrepared(let m): m.encode(into: &buffer)
        case .rollbackPrepared(let m): m.encode(into: &buffer)
        case .streamPrepare(let m): m.encode(into: &buffer)
        case .unknown(_, let body): buffer.append(contentsOf: body)
        }
    }

    public func encode() -> [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }
}

extension PGOutputMessage.Tag {
    /// Messages that carry the streamed transaction's xid inside a Stream Start/Stop block.
    var carriesStreamXID: Bool {
        switch self {
        case .relation, .type, .insert, .update, .delete, .truncate, .message: true
        default: false
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendStreamXID(_ xid: UInt32?) {
        if let xid { appendInteger(xid) }
    }
}
