import BinaryIO
#if canImport(Glibc)
import Glibc
#endif

/// A failure of an exact dedupe's state: its files, the references to them in the log's
/// commit records, or a bound reached with `on_full: refuse`.
public struct DedupeStateError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A state file or a checkpoint holds bytes that do not check out (torn, cut, or not
        /// written by this version).
        public static let damaged = Code("damaged")
        /// A file the last commit record names is not there.
        public static let missing = Code("missing")
        /// Reading or writing a state file failed.
        public static let storage = Code("storage")
        /// `max_entries` or `max_disk` reached with `on_full: refuse`.
        public static let full = Code("full")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension DedupeStateError: FileFailure {
    package init(_ error: FileError) {
        self.init(error.code == .systemCall && error.errorNumber == ENOENT ? .missing : .storage, error.description)
    }
}

extension DedupeStateError: ByteReadFailure {
    public init(_ error: ByteReadError) { self.init(.damaged, "\(error.detail) at byte \(error.offset)") }
}
