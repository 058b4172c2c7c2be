import PGOutput

/// Random, valid pgoutput messages for property tests: every message kind with random field
/// values, and the decoding context each one needs.
struct RandomMessages {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int<T: FixedWidthInteger>(_: T.Type = T.self) -> T { T.random(in: .min ... .max, using: &rng) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    mutating func lsn() -> LSN { chance(20) ? .zero : LSN(int(UInt64.self)) }
    mutating func timestamp() -> PostgresTimestamp { PostgresTimestamp(rawValue: int(Int64.self)) }

    /// Short strings of ASCII, multi-byte UTF-8 and empty ones; never NUL.
    mutating func string() -> String {
        let alphabet: [Character] = ["a", "z", "_", "0", "é", "表", "😀", " ", "\"", "\u{7F}"]
        return String((0..<int(0...12)).map { _ in alphabet[int(0...(alphabet.count - 1))] })
    }

    mutating func bytes(max: Int = 40) -> ArraySlice<UInt8> {
        ArraySlice((0..<int(0...max)).map { _ in int(UInt8.self) })
    }

    mutating func tuple() -> TupleData {
        TupleData((0..<int(0...8)).map { _ in
            switch int(0...3) {
            case 0: .null
            case 1: .unchangedToast
            case 2: .text(bytes())
            default: .binary(bytes())
            }
        })
    }

    mutating func oldTuple() -> PGOutputMessage.OldTuple { chance(50) ? .key(tuple()) : .oldRow(tuple()) }

    /// A message and a context it decodes under: change messages get an xid (and need
    /// `inStreamBlock`) half of the time.
    mutating func next() -> (message: PGOutputMessage, context: PGOutputMessage.DecodingContext) {
        let streamXID: UInt32? = chance(50) ? int(UInt32.self) : nil
        var context = PGOutputMessage.DecodingContext(inStreamBlock: streamXID != nil)
        let message: PGOutputMessage
        switch int(0...19) {
        case 0: message = .begin(.init(finalLSN: lsn(), commitTimestamp: timestamp(), xid: int()))
        case 1: message = .commit(.init(flags: chance(90) ? 0 : int(), commitLSN: lsn(), endLSN: lsn(), commitTimestamp: timestamp()))
        case 2: message = .origin(.init(commitLSN: lsn(), name: string()))
        case 3:
            let columns = (0..<int(0...6)).map { _ in
                PGOutputMessage.Relation.Column(flags: .init(rawValue: int(0...1) == 1 ? 1 : int()), name: string(), typeOID: int(), typeModifier: int())
            }
            let identities: [PGOutputMessage.Relation.ReplicaIdentity] = [.default, .nothing, .full, .index, .init(rawValue: int())]
            message = .relation(.init(
                xid: streamXID, relationID: int(), namespace: string(), name: string(),
                replicaIdentity: identities[int(0...4)], columns: columns))
        case 4: message = .type(.init(xid: streamXID, typeOID: int(), namespace: string(), name: string()))
        case 5: message = .insert(.init(xid: streamXID, relationID: int(), newTuple: tuple()))
        case 6: message = .update(.init(xid: streamXID, relationID: int(), old: chance(50) ? oldTuple() : nil, newTuple: tuple()))
        case 7: message = .delete(.init(xid: streamXID, relationID: int(), old: oldTuple()))
        case 8: message = .truncate(.init(xid: streamXID, options: .init(rawValue: int()), relationIDs: (0..<int(0...5)).map { _ in int() }))
        case 9: message = .message(.init(xid: streamXID, flags: .init(rawValue: int()), lsn: lsn(), prefix: string(), content: bytes()))
        case 10: message = .streamStart(.init(xid: int(), isFirstSegment: chance(50)))
        case 11: message = .streamStop
        case 12: message = .streamCommit(.init(xid: int(), flags: int(), commitLSN: lsn(), endLSN: lsn(), commitTimestamp: timestamp()))
        case 13:
            let parallel = chance(50)
            context.streamAbortHasAbortInfo = parallel
            message = .streamAbort(.init(
                xid: int(), subtransactionXID: int(),
                abortInfo: parallel ? .init(abortLSN: lsn(), abortTimestamp: timestamp()) : nil))
        case 14: message = .beginPrepare(.init(prepareLSN: lsn(), endLSN: lsn(), prepareTimestamp: timestamp(), xid: int(), gid: string()))
        case 15: message = .prepare(.init(flags: int(), prepareLSN: lsn(), endLSN: lsn(), prepareTimestamp: timestamp(), xid: int(), gid: string()))
        case 16: message = .commitPrepared(.init(flags: int(), commitLSN: lsn(), endLSN: lsn(), commitTimestamp: timestamp(), xid: int(), gid: string()))
        case 17:
            message = .rollbackPrepared(.init(
                flags: int(), prepareEndLSN: lsn(), rollbackEndLSN: lsn(), prepareTimestamp: timestamp(),
                rollbackTimestamp: timestamp(), xid: int(), gid: string()))
        case 18: message = .streamPrepare(.init(flags: int(), prepareLSN: lsn(), endLSN: lsn(), prepareTimestamp: timestamp(), xid: int(), gid: string()))
        default:
            // A tag no version of pgoutput uses.
            let known = Set(PGOutputMessage.Tag.allCases.map(\.rawValue))
            var tag = int(UInt8.self)
            while known.contains(tag) { tag = int(UInt8.self) }
            message = .unknown(tag: tag, body: bytes())
        }
        // Messages without a stream xid field decode the same inside and outside a block.
        if !message.hasStreamXIDField { context.inStreamBlock = chance(50) }
        return (message, context)
    }
}

extension PGOutputMessage {
    /// Whether the message kind has the xid field that exists only inside a stream block
    /// (per the protocol documentation: Relation, Type, Insert, Update, Delete, Truncate, Message).
    var hasStreamXIDField: Bool {
        switch self {
        case .relation, .type, .insert, .update, .delete, .truncate, .message: true
        default: false
        }
    }
}
