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

    /// The frame's content; with `prefix`, decompression stops once that many bytes are out
    /// (fewer only if the frame is shorter), and the frame's end is not checked.
    static func decompress(_ input: [UInt8], from start: Int, to end: Int, limit: Int, prefix: Int? = nil) throws(SegmentLogError) -> [UInt8] {
        guard start < end else { throw SegmentLogError(.decompressionFailed, "empty zstd input") }
        let decompression = DecompressionContext.current
        guard let context = decompression.context else {
            throw SegmentLogError(.decompressionFailed, "cannot allocate a zstd context")
        }
        // A context left mid-frame by an earlier failure must not leak into this frame.
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        var output: [UInt8] = []
        var lastResult = 0
        var stoppedEarly = false
        var failure: SegmentLogError?
        input.withUnsafeBytes { raw in
            let source = raw.baseAddress! + start
            // Frames that state their size (ours do) get the output allocated once.
            let stated = ZSTD_getFrameContentSize(source, end - start)
            if stated != ZSTD_CONTENTSIZE_UNKNOWN, stated != ZSTD_CONTENTSIZE_ERROR, stated <= UInt64(limit) {
                output.reserveCapacity(min(Int(stated), prefix ?? .max))
            }
            var inBuffer = ZSTD_inBuffer(src: source, size: end - start, pos: 0)
            let chunk = decompression.chunk
            repeat {
                var outBuffer = ZSTD_outBuffer(dst: chunk.baseAddress, size: chunk.count, pos: 0)
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
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<outBuffer.pos]))
                if let prefix, output.count >= prefix {
                    stoppedEarly = true
                    return
                }
                // Stop once all input is consumed and the output buffer was not filled
                // (a full buffer may mean more output is pending inside the context).
                if inBuffer.pos == inBuffer.size && outBuffer.pos < outBuffer.size { break }
            } while true
        }
        if let failure { throw failure }
        if lastResult != 0 && !stoppedEarly {
            throw SegmentLogError(.decompressionFailed, "zstd frame is incomplete")
        }
        return output
    }
}

/// One decompression context and output chunk per thread: creating a context per batch
/// costs more than decompressing a small batch (it is over 100 KiB, allocated and faulted in
/// each time), and a reader that follows the log decompresses many small batches.
final class DecompressionContext {
    let context: OpaquePointer?
    let chunk: UnsafeMutableRawBufferPointer

    private init() {
        context = ZSTD_createDCtx()
        chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        if let context { ZSTD_freeDCtx(context) }
        chunk.deallocate()
    }

    static var current: DecompressionContext { perThread("outflow.segmentlog.zstd-dctx", DecompressionContext.init) }
}

/// A zstd compression context per thread: creating one per batch costs more than compressing
/// a small batch. Contexts are not thread-safe, hence one per thread.
final class CompressionContext {
    private let context: OpaquePointer

    private init() { context = ZSTD_createCCtx() }
    deinit { ZSTD_freeCCtx(context) }

    func withContext<T>(_ body: (OpaquePointer) -> T) -> T { body(context) }

    static var current: CompressionContext { perThread("outflow.segmentlog.zstd-cctx", CompressionContext.init) }
}

enum ZstdThreadContexts {
    /// Frees the calling thread's zstd contexts now. A thread that others wait for calls it
    /// before it says it has finished: left to the thread's end, the frees could run while the
    /// process that stopped waiting exits.
    static func release() {
        let dictionary = Thread.current.threadDictionary
        dictionary.removeObject(forKey: "outflow.segmentlog.zstd-dctx")
        dictionary.removeObject(forKey: "outflow.segmentlog.zstd-cctx")
    }
}

/// The calling thread's object under `key`, made on first use.
private func perThread<Object: AnyObject>(_ key: String, _ make: () -> Object) -> Object {
    let dictionary = Thread.current.threadDictionary
    if let existing = dictionary[key] as? Object { return existing }
    let created = make()
    dictionary[key] = created
    return created
}
