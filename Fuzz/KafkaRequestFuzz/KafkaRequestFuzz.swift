// libFuzzer target for the Kafka request path: the bytes a client sends, split into frames
// as the endpoint splits them (`KafkaFrameDecoder`), each frame decoded into a request
// (`KafkaRequest.decode(frame:)`). Built and run by scripts/fuzz-kafka.
//
// Beyond "no crash, no trap, no sanitizer report", it checks that whatever decodes is kept
// whole: the request encoded again at its version decodes to the same header and request, and
// a decode error points inside the frame. A failure traps, which libFuzzer records as a crash
// with the input that caused it.
//
// Built with -D OUTFLOW_FUZZING (scripts/fuzz-kafka), libFuzzer provides `main`; an ordinary
// build is a replayer instead: `KafkaRequestFuzz FILE...` runs each file through the same
// checks (to reproduce a crash under a debugger, or as a quick check of a corpus).

import KafkaProtocol
import NIOCore

/// The endpoint's default is 8 MiB; inputs are small, so this bound is what a fuzzer can
/// reach: a size above it must be refused before anything waits for the frame.
let maximumFrameSize = 1 << 16

func checkStream(_ bytes: UnsafeRawBufferPointer) {
    var stream = ByteBuffer(bytes: bytes)
    let decoder = KafkaFrameDecoder(maximumFrameSize: maximumFrameSize)
    while true {
        let frame: ByteBuffer?
        do { frame = try decoder.nextFrame(from: &stream) } catch {
            precondition(error.code == .invalidLength || error.code == .frameTooLarge, "unexpected frame error: \(error)")
            return
        }
        guard let frame else { return }
        checkFrame(frame)
    }
}

func checkFrame(_ frame: ByteBuffer) {
    let header: RequestHeader
    let request: KafkaRequest
    do { (header, request) = try KafkaRequest.decode(frame: frame) } catch {
        precondition(error.offset >= 0 && error.offset <= frame.readableBytes, "error offset outside the frame: \(error)")
        return
    }
    guard case .unsupported = request else {
        var encoded = request.encodeFrame(header: header)
        guard let size = encoded.readInteger(as: Int32.self), Int(size) == encoded.readableBytes else {
            preconditionFailure("re-encoded frame has a wrong size prefix: \(request)")
        }
        let again: (header: RequestHeader, request: KafkaRequest)
        do { again = try KafkaRequest.decode(frame: encoded) } catch {
            preconditionFailure("re-encoded request does not decode: \(error) — \(request)")
        }
        precondition(again.header == header, "header changed through a re-encoding: \(header) → \(again.header)")
        precondition(again.request == request, "request changed through a re-encoding: \(request) → \(again.request)")
        return
    }
}

#if OUTFLOW_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    checkStream(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
enum Replay {
    static func main() {
        var checked = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                print("cannot open \(path)")
                exit(1)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count <= 0 { break }
                bytes += chunk[..<count]
            }
            fclose(file)
            bytes.withUnsafeBytes { checkStream($0) }
            checked += 1
        }
        print("checked \(checked) inputs")
    }
}
#endif
