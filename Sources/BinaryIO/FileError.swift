#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file operation that failed: which (`operation`, `path`) and why (`code`, and for a
/// failed system call its `errno`). Each module turns it into its own error (`FileFailure`).
package struct FileError: Error, Sendable, Hashable, CustomStringConvertible {
    package struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package var rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        /// A system call failed; `errorNumber` says why.
        package static let systemCall = Code(rawValue: "systemCall")
        /// A file read whole is larger than its caller allows (`byteCount` says how large).
        package static let tooLarge = Code(rawValue: "tooLarge")
        /// A write made no progress (the device is full or the file cannot grow).
        package static let noProgress = Code(rawValue: "noProgress")
        /// A file ended before the bytes its caller knew it had.
        package static let shortRead = Code(rawValue: "shortRead")
    }

    package var code: Code
    /// The system call or step, e.g. "open", "pwrite", "rename".
    package var operation: String
    package var path: String
    /// `errno` of a failed system call; 0 for the other codes.
    package var errorNumber: Int32
    /// The file's size for `.tooLarge`, the bytes read for `.shortRead`.
    package var byteCount: Int64?

    package init(_ code: Code, _ operation: String, path: String, errorNumber: Int32 = 0, byteCount: Int64? = nil) {
        self.code = code
        self.operation = operation
        self.path = path
        self.errorNumber = errorNumber
        self.byteCount = byteCount
    }

    /// A failed system call, with `errno` as it is now.
    package static func systemCall(_ operation: String, _ path: String, _ errorNumber: Int32 = errno) -> FileError {
        FileError(.systemCall, operation, path: path, errorNumber: errorNumber)
    }

    /// Why, in words: the system's text for `errno`, or what went wrong.
    package var reason: String {
        switch code {
        case .systemCall: String(cString: strerror(errorNumber))
        case .tooLarge: "file of \(byteCount ?? -1) bytes is larger than expected"
        case .noProgress: "no bytes written (\(String(cString: strerror(ENOSPC))))"
        case .shortRead: "file ends after \(byteCount ?? -1) bytes"
        default: code.rawValue
        }
    }

    package var description: String { "\(operation) \(path) failed: \(reason)" }
}

/// A module's own error, made from a `FileError`: `POSIXFile<Failure>` throws `Failure`, the
/// mapping is written once, in the conformance.
package protocol FileFailure: Error {
    init(_ error: FileError)
}

extension FileError: FileFailure {
    package init(_ error: FileError) { self = error }
}
