import BinaryIO

// SegmentLog reads bytes and files through the package's shared helpers (BinaryIO), failing
// with SegmentLogError: the mapping below is the only place their errors are translated.

/// The shared byte reader, failing with `SegmentLogError` (`.truncated`, `.malformedVarint`,
/// `.malformedBatch` for other malformations) positioned at the offending byte.
typealias ByteReader = BinaryIO.ByteReader<SegmentLogError>
/// The shared POSIX file layer, failing with `SegmentLogError(.io)` naming the file.
typealias FileIO = POSIXFile<SegmentLogError>
/// An open file, closed when the last reference goes away.
typealias FileHandleBox = OpenFile<SegmentLogError>

extension SegmentLogError: ByteReadFailure {
    public init(_ error: ByteReadError) {
        let code: Code =
            switch error.code {
            case .truncated: .truncated
            case .malformedVarint: .malformedVarint
            default: .malformedBatch
            }
        self.init(code, error.detail, position: Int64(error.offset))
    }
}

extension SegmentLogError: FileFailure {
    package init(_ error: FileError) {
        switch error.code {
        case .tooLarge:
            // Only state files are read whole: one larger than any this log writes is damage.
            self.init(.corruptStateFile, error.reason, path: error.path)
        default:
            self.init(.io, "\(error.operation) failed: \(error.reason)", path: error.path)
        }
    }
}
