// Writes the fuzzer's seed corpus: the messages captured from PostgreSQL 15
// (Tests/PGOutputTests/Fixtures/CapturedStreams.swift, compiled in), and encoder-built samples
// of every message kind and frame, each prefixed with the fuzz target's mode byte.
// Built and run by scripts/fuzz: `pgoutput-seeds DIR`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func hexBytes(_ text: Substring) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex, let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex) {
        bytes.append(UInt8(text[index..<next], radix: 16) ?? 0)
        index = next
    }
    return bytes
}

var seeds: [[UInt8]] = []

// Captured messages: a few of each tag per fixture (thousands of near-identical Inserts add nothing).
for (fixture, streaming) in [
    (CapturedStreams.basicProto1, false), (CapturedStreams.basicProto1Binary, false),
    (CapturedStreams.streamingProto2, true), (CapturedStreams.twoPhaseProto3, true),
] {
    var perTag: [UInt8: Int] = [:]
    var inStream = false
    for line in fixture.split(separator: "\n") {
        guard let field = line.split(separator: " ").last else { continue }
        let message = hexBytes(field)
        guard let tag = message.first else { continue }
        let mode: UInt8 = inStream ? 1 : 0
        if tag == 0x53 { inStream = true }
        if tag == 0x45 { inStream = false }
        perTag[tag, default: 0] += 1
        if perTag[tag]! <= 4 { seeds.append([mode] + message) }
        _ = streaming
    }
}

// Encoder-built samples.
let tuple = TupleData([.text(ArraySlice("42".utf8)), .null, .unchangedToast, .binary([0, 0, 0, 7])])
let ts = PostgresTimestamp(rawValue: 820_638_245_000_000)
let samples: [(PGOutputMessage, UInt8)] = [
    (.begin(.init(finalLSN: LSN(0x1944_2D8), commitTimestamp: ts, xid: 741)), 0),
    (.commit(.init(commitLSN: LSN(0x1944_2D8), endLSN: LSN(0x1944_308), commitTimestamp: ts)), 0),
    (.origin(.init(commitLSN: LSN(0xABCDEF), name: "upstream")), 0),
    (.relation(.init(relationID: 16_396, namespace: "public", name: "outbox", replicaIdentity: .default, columns: [
        .init(flags: .key, name: "id", typeOID: 20), .init(name: "payload", typeOID: 3802),
    ])), 0),
    (.relation(.init(xid: 808, relationID: 16_396, namespace: "", name: "t", replicaIdentity: .full, columns: [])), 1),
    (.type(.init(typeOID: 16_387, namespace: "public", name: "mood")), 0),
    (.insert(.init(relationID: 16_396, newTuple: tuple)), 0),
    (.insert(.init(xid: 808, relationID: 16_396, newTuple: tuple)), 1),
    (.update(.init(relationID: 16_396, old: .key(tuple), newTuple: tuple)), 0),
    (.update(.init(relationID: 16_396, old: .oldRow(tuple), newTuple: tuple)), 0),
    (.update(.init(xid: 808, relationID: 16_396, newTuple: tuple)), 1),
    (.delete(.init(relationID: 16_396, old: .key(tuple))), 0),
    (.delete(.init(relationID: 16_396, old: .oldRow(tuple))), 0),
    (.truncate(.init(options: [.cascade, .restartIdentity], relationIDs: [16_396, 16_397])), 0),
    (.message(.init(flags: .transactional, lsn: LSN(0x1944_570), prefix: "outflow", content: ArraySlice("hello".utf8))), 0),
    (.message(.init(xid: 808, flags: [], lsn: LSN(16), prefix: "p", content: [])), 1),
    (.streamStart(.init(xid: 808, isFirstSegment: true)), 0),
    (.streamStop, 1),
    (.streamCommit(.init(xid: 808, commitLSN: LSN(10), endLSN: LSN(20), commitTimestamp: ts)), 0),
    (.streamAbort(.init(xid: 808, subtransactionXID: 809)), 0),
    (.streamAbort(.init(xid: 808, subtransactionXID: 808, abortInfo: .init(abortLSN: LSN(30), abortTimestamp: ts))), 2),
    (.beginPrepare(.init(prepareLSN: LSN(1), endLSN: LSN(2), prepareTimestamp: ts, xid: 813, gid: "gid")), 0),
    (.prepare(.init(prepareLSN: LSN(1), endLSN: LSN(2), prepareTimestamp: ts, xid: 813, gid: "gid")), 0),
    (.commitPrepared(.init(commitLSN: LSN(3), endLSN: LSN(4), commitTimestamp: ts, xid: 813, gid: "gid")), 0),
    (.rollbackPrepared(.init(prepareEndLSN: LSN(2), rollbackEndLSN: LSN(5), prepareTimestamp: ts, rollbackTimestamp: ts, xid: 813, gid: "gid")), 0),
    (.streamPrepare(.init(prepareLSN: LSN(1), endLSN: LSN(2), prepareTimestamp: ts, xid: 813, gid: "gid")), 0),
]
for (message, mode) in samples {
    seeds.append([mode] + message.encode())
    // The same message in an XLogData frame (mode bit 2).
    let frame = ReplicationFrame.xLogData(.init(walStart: LSN(1), walEnd: LSN(2), sendTime: ts, payload: message.encode()[...]))
    seeds.append([mode | 4] + frame.encode())
}
seeds.append([4] + ReplicationFrame.primaryKeepalive(.init(walEnd: LSN(99), sendTime: ts, replyRequested: true)).encode())
seeds.append([4] + StandbyStatusUpdate(written: LSN(1), flushed: LSN(2), applied: LSN(3), clock: ts, replyRequested: false).encode())

guard CommandLine.arguments.count == 2 else {
    print("usage: pgoutput-seeds DIR")
    exit(2)
}
let directory = CommandLine.arguments[1]
for (index, seed) in seeds.enumerated() {
    let path = "\(directory)/seed-\(index)"
    guard let file = fopen(path, "wb") else {
        print("cannot write \(path)")
        exit(1)
    }
    _ = seed.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}
print("wrote \(seeds.count) seeds to \(directory)")
