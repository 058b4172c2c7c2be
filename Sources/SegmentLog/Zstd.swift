import CZstd
import Foundation

/// zstd through libzstd: one frame per batch on the way out; on the way in, streaming
/// decompression that accepts frames without a content size and concatenated frames, and
/// stops with `.decompressionLimitExceeded` before the output outgrows `limit`.
enum Zstd {
    static func compress(_ input: [UInt8], level: Int32) throws(SegmentLogError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                CompressionContext.current.withContext { context in
                    ZSTD_compressCCtx(context, out.baseAddress, out.count, inp.baseAddress, inp.count, level)
                }
            }
        }
        if ZSTD_isError(written) != 0 {
            throw SegmentLogError(.io, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
        }
        output.removeLast(output.count - written)
        return output
    }

    static func decompress(_ input: [UInt8], from start: Int, to end: Int, limit: Int) throws(SegmentLogError) -> [UInt8] {
        guard start < end else { throw SegmentLogError(.decompressionFailed, "empty zstd input") }
        guard let context = ZSTD_createDCtx() else {
            throw SegmentLogError(.decompressionFailed, "cannot allocate a zstd context")
        }
        defer { ZSTD_freeDCtx(context) }
        var output: [UInt8] = []
        let chunkSize = 64 * 1024
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var lastResult = 0
        var failure: SegmentLogError?
        input.withUnsafeBytes { raw in
            var inBuffer = ZSTD_inBuffer(src: raw.baseAddress! + start, size: end - start, pos: 0)
            chunk.withUnsafeMutableBytes { chunkRaw in
                repeat {
                    var outBuffer = ZSTD_outBuffer(dst: chunkRaw.baseAddress, size: chunkRaw.count, pos: 0)
                    let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    if ZSTD_isError(result) != 0 {
                        failure = SegmentLogError(.decompressionFailed, "zstd: \(String(cString: ZSTD_getErrorName(result)))")
                        return
                    }
                    lastResult = result
                    if output.count + outBuffer.pos > limit {
                        failure = SegmentLogError(.decompressionLimitExceeded, "zstd output exceeds the \(limit)-byte limit")
                        return
                    }
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunkRaw[0..<outBuffer.pos]))
                    // Stop once all input is consumed and the output buffer was not filled
                    // (a full buffer may mean more output is pending inside the context).
                    if inBuffer.pos == inBuffer.size && outBuffer.pos < outBuffer.size { break }
                } while true
            }
        }
        if let failure { throw failure }
        if lastResult != 0 {
            throw SegmentLogError(.decompressionFailed, "zstd frame is incomplete")
        }
        return output
    }
}

/// A zstd compression context per thread: creating one per batch costs more than compressing
/// a small batch. Contexts are not thread-safe, hence one per thread.
final class CompressionContext {
    private let context: OpaquePointer

    private init() { context = ZSTD_createCCtx() }
    deinit { ZSTD_freeCCtx(context) }

    func withContext<T>(_ body: (OpaquePointer) -> T) -> T { body(context) }

    private static let key = "outflow.segmentlog.zstd-cctx"

    static var current: CompressionContext {
        let dictionary = Thread.current.threadDictionary
        if let existing = dictionary[key] as? CompressionContext { return existing }
        let created = CompressionContext()
        dictionary[key] = created
        return created
    }
}
