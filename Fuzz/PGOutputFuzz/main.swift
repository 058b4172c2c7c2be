// libFuzzer target for the PGOutput decoders. Built and run by scripts/fuzz.
//
// Input layout: the first byte chooses what to decode and under which context, the rest is
// the bytes to decode (a slice whose indices start at 1, as XLogData payloads do):
//   bit 0  DecodingContext.inStreamBlock
//   bit 1  DecodingContext.streamAbortHasAbortInfo
//   bit 2  0: a pgoutput message; 1: a replication frame (and its XLogData payload) and a
//          standby status update
//
// Beyond "no crash, no trap, no sanitizer report", it checks that whatever decodes is
// lossless: encoding the decoded value gives the input back. A failure traps, which libFuzzer
// records as a crash with the input that caused it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = bytes.first else { return 0 }
    let input = bytes[1...]
    let context = PGOutputMessage.DecodingContext(inStreamBlock: mode & 1 != 0, streamAbortHasAbortInfo: mode & 2 != 0)
    if mode & 4 == 0 {
        checkMessage(input, context: context)
    } else {
        do {
            let frame = try ReplicationFrame.decode(from: input)
            precondition(frame.encode() == Array(input), "frame does not re-encode to its input")
            if case .xLogData(let data) = frame {
                checkMessage(data.payload, context: context)
            }
        } catch {
            precondition(error.offset >= 0 && error.offset <= input.count, "error offset out of range: \(error)")
        }
        if let update = try? StandbyStatusUpdate.decode(from: input) {
            precondition(update.encode() == Array(input), "standby status update does not re-encode to its input")
        }
    }
    return 0
}

func checkMessage(_ input: ArraySlice<UInt8>, context: PGOutputMessage.DecodingContext) {
    do {
        let message = try PGOutputMessage.decode(from: input, context: context)
        let encoded = message.encode()
        precondition(encoded == Array(input), "message does not re-encode to its input: \(message)")
        // And the stateful decoder agrees with the stateless one.
        var decoder = PGOutputDecoder(protocolVersion: context.streamAbortHasAbortInfo ? 4 : 2, streaming: context.streamAbortHasAbortInfo ? .parallel : .on)
        if context.inStreamBlock { _ = try? decoder.decode([0x53, 0, 0, 0, 1, 1]) }
        precondition((try? decoder.decode(encoded)) == message, "PGOutputDecoder disagrees")
    } catch {
        precondition(error.offset >= 0 && error.offset <= input.count, "error offset out of range: \(error)")
    }
}
