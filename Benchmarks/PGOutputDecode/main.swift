// Decode micro-benchmark: a stream of realistic outbox transactions (Begin, Relation,
// Insert × N, Commit), each message wrapped in an XLogData frame as the walsender sends it,
// decoded over and over. Build and run with scripts/bench-decode.
//
// Prints messages/s for the pgoutput message alone and for frame + message.

let insertsPerTransaction = 100
let transactions = 100
let rounds = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 30

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

var random = SplitMix64(state: 42)
var messages: [[UInt8]] = []
var lsn: UInt64 = 0x1_6B37_4D48
for transaction in 0..<transactions {
    let xid = UInt32(1000 + transaction)
    let start = lsn
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
    _ = start
}
let frames: [[UInt8]] = messages.map { message in
    ReplicationFrame.xLogData(.init(walStart: LSN(lsn), walEnd: LSN(lsn), sendTime: PostgresTimestamp(rawValue: 0), payload: message[...])).encode()
}
let totalBytes = messages.reduce(0) { $0 + $1.count }
print("stream: \(messages.count) messages (\(transactions) transactions of Begin, Relation, \(insertsPerTransaction) Inserts, Commit), \(totalBytes) bytes; \(rounds) rounds")

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
    var decoder = PGOutputDecoder(protocolVersion: 1)
    var sum = 0
    for message in messages { sum &+= checksum(try decoder.decode(message)) }
    return sum
}

measure("XLogData frame + message decode") { () throws(PGOutputError) -> Int in
    var decoder = PGOutputDecoder(protocolVersion: 1)
    var sum = 0
    for frame in frames {
        guard case .xLogData(let data) = try ReplicationFrame.decode(from: frame) else { fatalError("not XLogData") }
        sum &+= checksum(try decoder.decode(data.payload))
    }
    return sum
}
