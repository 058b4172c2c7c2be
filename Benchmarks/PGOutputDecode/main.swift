// Decode micro-benchmark: a pgoutput stream, each message in the XLogData frame the walsender
// sent it in, decoded over and over. Build and run with scripts/bench-decode:
//
//   pgoutput-decode [ROUNDS] [CAPTURE_FILE]      (ROUNDS default 30; the best round is reported)
//
// CAPTURE_FILE is a stream captured from a server by `outflow-bench capture`: XLogData frames
// as received (the CopyData bytes, starting with 'w'), each preceded by its length as a 4-byte
// big-endian integer. Without it, a synthetic stream of outbox transactions (Begin, Relation,
// Insert × N, Commit) built with the project's own encoders.
//
// Prints messages/s for the pgoutput message alone and for frame + message.

import Foundation

let insertsPerTransaction = 100
let transactions = 100
let arguments = Array(CommandLine.arguments.dropFirst())
let rounds = Int(arguments.first ?? "") ?? 30
let captureFile = arguments.count > 1 ? arguments[1] : nil

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("pgoutput-decode: \(message)\n".utf8))
    exit(1)
}

/// A SplitMix64 generator so the data is the same on every run.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func text(_ string: String) -> TupleColumn { .text(ArraySlice(string.utf8)) }

let outboxRelation = PGOutputMessage.Relation(
    relationID: 16_412, namespace: "public", name: "outbox", replicaIdentity: .default,
    columns: [
        .init(flags: .key, name: "id", typeOID: 2950),  // uuid
        .init(name: "aggregate_type", typeOID: 25),
        .init(name: "aggregate_id", typeOID: 25),
        .init(name: "event_type", typeOID: 25),
        .init(name: "payload", typeOID: 3802),  // jsonb
        .init(name: "created_at", typeOID: 1184),  // timestamptz
    ])

/// The synthetic stream: messages, and the same messages in XLogData frames.
func syntheticStream() -> (messages: [[UInt8]], frames: [[UInt8]]) {
    var random = SplitMix64(state: 42)
    var messages: [[UInt8]] = []
    var lsn: UInt64 = 0x1_6B37_4D48
    for transaction in 0..<transactions {
        let xid = UInt32(1000 + transaction)
        lsn += UInt64(insertsPerTransaction) * 400
        let timestamp = PostgresTimestamp(rawValue: 838_000_000_000_000 + Int64(transaction) * 1000)
        messages.append(PGOutputMessage.begin(.init(finalLSN: LSN(lsn), commitTimestamp: timestamp, xid: xid)).encode())
        messages.append(PGOutputMessage.relation(outboxRelation).encode())
        for row in 0..<insertsPerTransaction {
            let r = random.next()
            let uuid = String(r, radix: 16) + "-4e1c-9a7b-" + String(r >> 16, radix: 16)
            let payload = #"{"orderId":"o-\#(r % 100_000)","customerId":"c-\#(r % 977)","total":\#(r % 10_000).\#(r % 100),"currency":"EUR","items":[{"sku":"SKU-\#(r % 313)","qty":\#(r % 5 + 1)}]}"#
            messages.append(
                PGOutputMessage.insert(
                    .init(relationID: 16_412, newTuple: TupleData([
                        text(uuid), text("order"), text("o-\(r % 100_000)"), text(row % 3 == 0 ? "OrderCreated" : "OrderPaid"),
                        text(payload), text("2026-01-02 03:04:\(10 + row % 50).\(r % 1_000_000)+00"),
                    ]))
                ).encode())
        }
        messages.append(PGOutputMessage.commit(.init(commitLSN: LSN(lsn), endLSN: LSN(lsn + 48), commitTimestamp: timestamp)).encode())
    }
    let frames: [[UInt8]] = messages.map { message in
        ReplicationFrame.xLogData(.init(walStart: LSN(lsn), walEnd: LSN(lsn), sendTime: PostgresTimestamp(rawValue: 0), payload: message[...])).encode()
    }
    return (messages, frames)
}

/// A capture file's frames, and their pgoutput messages (copied out, as the synthetic stream
/// holds them, so that "message only" decodes the same kind of buffers either way).
func capturedStream(_ path: String) -> (messages: [[UInt8]], frames: [[UInt8]]) {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let bytes = [UInt8](data)
    var frames: [[UInt8]] = []
    var messages: [[UInt8]] = []
    var offset = 0
    while offset < bytes.count {
        guard bytes.count - offset >= 4 else { fail("\(path): truncated length prefix at byte \(offset)") }
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        offset += 4
        guard length <= bytes.count - offset else { fail("\(path): frame of \(length) bytes at byte \(offset - 4) runs past the end of the file") }
        let frame = Array(bytes[offset..<(offset + length)])
        offset += length
        guard case .xLogData(let data)? = try? ReplicationFrame.decode(from: frame) else {
            fail("\(path): frame \(frames.count + 1) (byte \(offset - length - 4)) is not an XLogData frame")
        }
        frames.append(frame)
        messages.append(Array(data.payload))
    }
    guard !frames.isEmpty else { fail("\(path): no frames") }
    return (messages, frames)
}

let (messages, frames) = captureFile.map(capturedStream) ?? syntheticStream()
let totalBytes = messages.reduce(0) { $0 + $1.count }

/// A decoder for the stream, one per round. The capture asks for no streaming of in-progress
/// transactions, and with streaming off the protocol version (3 or 4) changes nothing in how
/// a message decodes.
func makeDecoder() -> PGOutputDecoder {
    captureFile == nil ? PGOutputDecoder(protocolVersion: 1) : PGOutputDecoder(protocolVersion: 4, streaming: .off)
}

if let captureFile {
    // What the capture holds, by message kind (it is decoded once here, unmeasured).
    var decoder = makeDecoder()
    var kinds: [String: Int] = [:]
    for message in messages {
        let decoded: PGOutputMessage
        do { decoded = try decoder.decode(message) } catch { fail("\(captureFile): \(error)") }
        kinds[Mirror(reflecting: decoded).children.first?.label ?? "\(decoded)", default: 0] += 1
    }
    let frameBytes = frames.reduce(0) { $0 + $1.count }
    print("capture: \(messages.count) messages, \(totalBytes) bytes (\(frameBytes) bytes with their frames) from \(captureFile)")
    print("messages by kind: " + kinds.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "; \(rounds) rounds")
} else {
    print("stream: \(messages.count) messages (\(transactions) transactions of Begin, Relation, \(insertsPerTransaction) Inserts, Commit), \(totalBytes) bytes; \(rounds) rounds")
}

/// Touches every decoded value so the optimizer cannot drop the work.
@inline(never)
func checksum(_ message: PGOutputMessage) -> Int {
    switch message {
    case .insert(let insert):
        var sum = Int(insert.relationID)
        for column in insert.newTuple.columns { sum &+= column.bytes?.count ?? 1 }
        return sum
    case .relation(let relation): return relation.columns.count
    case .begin(let begin): return Int(begin.xid)
    case .commit(let commit): return Int(truncatingIfNeeded: commit.endLSN.rawValue)
    default: return 0
    }
}

@MainActor func measure(_ label: String, _ body: () throws(PGOutputError) -> Int) {
    let clock = ContinuousClock()
    var best = Duration.seconds(1000)
    var sink = 0
    for _ in 0..<rounds {
        let start = clock.now
        do { sink &+= try body() } catch { fatalError("\(error)") }
        best = min(best, clock.now - start)
    }
    let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
    let rate = Double(messages.count) / seconds
    let megabytes = Double(totalBytes) / seconds / 1_000_000
    print("\(label): \(Int(rate)) messages/s (\(Int(megabytes)) MB/s, best of \(rounds) rounds; checksum \(sink % 1000))")
}

measure("pgoutput message decode") { () throws(PGOutputError) -> Int in
    var decoder = makeDecoder()
    var sum = 0
    for message in messages { sum &+= checksum(try decoder.decode(message)) }
    return sum
}

measure("XLogData frame + message decode") { () throws(PGOutputError) -> Int in
    var decoder = makeDecoder()
    var sum = 0
    for frame in frames {
        guard case .xLogData(let data) = try ReplicationFrame.decode(from: frame) else { fatalError("not XLogData") }
        sum &+= checksum(try decoder.decode(data.payload))
    }
    return sum
}
