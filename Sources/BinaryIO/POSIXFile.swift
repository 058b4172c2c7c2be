import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX file operations with the loops they need: EINTR is retried, a short write or
/// read continues where it stopped, a write that makes no progress fails instead of spinning.
/// Errors are `FileError`s made into the caller's `Failure`.
package enum POSIXFile<Failure: FileFailure> {
    @usableFromInline
    static func failure(_ operation: String, _ path: String, _ code: Int32 = errno) -> Failure {
        Failure(.systemCall(operation, path, code))
    }

    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(Failure) -> Int32 {
        PowerLoss.willOpen(path, flags: flags)
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw failure("open", path) }
        }
    }

    package static func size(_ fd: Int32, path: String) throws(Failure) -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("fstat", path) }
        return Int64(info.st_size)
    }

    /// The size of the file at `path`, or nil when it cannot be read (gone, not permitted).
    package static func size(atPath path: String) -> Int64? {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : nil
    }

    /// Fills `buffer` from `offset` on; returns how many bytes it read, fewer only at end of file.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws(Failure) -> Int {
        if DiskFaults.fails(.read) { throw failure("pread", path, EIO) }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 {
                done += n
            } else if n == 0 {
                break
            } else if errno != EINTR {
                throw failure("pread", path)
            }
        }
        return done
    }

    /// Reads up to `count` bytes at `offset`; fewer only at end of file.
    package static func read(_ fd: Int32, count: Int, at offset: Int64, path: String) throws(Failure) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        // withUnsafeMutableBytes rethrows untyped: carry the typed result out instead.
        let result = buffer.withUnsafeMutableBytes { raw in Result { () throws(Failure) in try read(fd, into: raw, at: offset, path: path) } }
        let done = try result.get()
        if done < count { buffer.removeLast(count - done) }
        return buffer
    }

    /// Writes all of `bytes` at `offset`.
    package static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws(Failure) {
        PowerLoss.willWrite(fd, path: path)
        if DiskFaults.fails(.write) { throw failure("pwrite", path, EIO) }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n > 0 {
                done += n
            } else if n == 0 {
                throw Failure(FileError(.noProgress, "pwrite", path: path, byteCount: Int64(done)))
            } else if errno != EINTR {
                throw failure("pwrite", path)
            }
        }
    }

    package static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, path: String) throws(Failure) {
        // withUnsafeBytes rethrows untyped: carry the typed result out instead.
        try bytes.withUnsafeBytes { raw in Result { () throws(Failure) in try write(fd, raw, at: offset, path: path) } }.get()
    }

    /// fsync: the file's data and size are durable when it returns.
    package static func sync(_ fd: Int32, path: String) throws(Failure) {
        if DiskFaults.fails(.fsync) { throw failure("fsync", path, EIO) }
        while fsync(fd) != 0 {
            if errno != EINTR { throw failure("fsync", path) }
        }
        FileSyncRecord.record(fd, path: path)
        PowerLoss.didSync(fd, path: path)
    }

    package static func truncate(_ fd: Int32, to size: Int64, path: String) throws(Failure) {
        PowerLoss.willWrite(fd, path: path)
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw failure("ftruncate", path) }
        }
    }

    /// Makes a directory entry (a created, renamed or deleted file) durable.
    package static func syncDirectory(_ path: String) throws(Failure) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try sync(fd, path: path)
    }

    /// The whole file, nil when it does not exist; larger than `limit` bytes is an error.
    package static func readFile(_ path: String, limit: Int = 64 << 20) throws(Failure) -> [UInt8]? {
        var fd: Int32
        repeat { fd = Glibc.open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failure("open", path)
        }
        defer { close(fd) }
        let size = try self.size(fd, path: path)
        guard size <= limit else { throw Failure(FileError(.tooLarge, "read", path: path, byteCount: size)) }
        return try read(fd, count: Int(size), at: 0, path: path)
    }

    /// Writes to a temporary file, fsyncs it, renames it over `path`, fsyncs the directory: a
    /// reader sees the old content or the new, never a mix, even after a crash.
    /// `afterTemporaryWrite` runs once the temporary file is durable (crash tests stop there).
    package static func writeAtomically(_ path: String, _ bytes: [UInt8], afterTemporaryWrite: () -> Void = {}) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(Failure) {
            try write(fd, bytes, at: 0, path: temporary)
            try sync(fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        afterTemporaryWrite()
        guard Glibc.rename(temporary, path) == 0 else { throw failure("rename", path) }
        PowerLoss.didRename(temporary, to: path)
        try syncDirectory(directory(of: path))
    }

    /// Renames `from` over `to` (atomic; the directory still needs an fsync to make it durable).
    package static func rename(_ from: String, to: String) throws(Failure) {
        guard Glibc.rename(from, to) == 0 else { throw failure("rename", to) }
        PowerLoss.didRename(from, to: to)
    }

    /// Which file (device and inode) `fd` is, to tell whether a name still refers to it.
    package static func identity(_ fd: Int32) -> FileIdentity? {
        var info = stat()
        return fstat(fd, &info) == 0 ? FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) : nil
    }

    /// Which file the name `path` refers to now; nil when there is none.
    package static func identity(atPath path: String) -> FileIdentity? {
        var info = stat()
        return stat(path, &info) == 0 ? FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) : nil
    }

    /// The directory holding `path` ("." for a bare name).
    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates the directory `path` unless it exists; with `intermediate`, its parents too.
    package static func createDirectory(_ path: String, intermediate: Bool = false) throws(Failure) {
        if intermediate, !path.isEmpty {
            let parent = directory(of: path)
            if parent != path, parent != ".", parent != "/", !exists(parent) { try createDirectory(parent, intermediate: true) }
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", path) }
    }

    package static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Deletes the file `path`; one already gone is not an error.
    package static func remove(_ path: String) throws(Failure) {
        if unlink(path) != 0 && errno != ENOENT { throw failure("unlink", path) }
        PowerLoss.didRemove(path)
    }

    package static func listDirectory(_ path: String) throws(Failure) -> [String] {
        guard let directory = opendir(path) else { throw failure("opendir", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// Crash tests switch this on (non-nil) to learn which bytes of each file were really
/// fsynced: only the bytes after that point may be lost in a simulated crash.
package enum FileSyncRecord {
    package static let sizes = Mutex<[String: Int64]?>(nil)

    static func record(_ fd: Int32, path: String) {
        sizes.withLock { recorded in
            guard recorded != nil else { return }
            var info = stat()
            recorded![path] = fstat(fd, &info) == 0 ? Int64(info.st_size) : -1
        }
    }
}

/// An open file descriptor, closed when the last reference goes away.
package final class OpenFile<Failure: FileFailure> {
    package let fd: Int32
    package let path: String

    package init(path: String, flags: Int32, mode: mode_t = 0o644) throws(Failure) {
        self.path = path
        self.fd = try POSIXFile<Failure>.open(path, flags, mode: mode)
    }

    deinit { close(fd) }

    package static func readOnly(_ path: String) throws(Failure) -> OpenFile {
        try OpenFile(path: path, flags: O_RDONLY)
    }

    package func size() throws(Failure) -> Int64 { try POSIXFile<Failure>.size(fd, path: path) }
    package func read(count: Int, at offset: Int64) throws(Failure) -> [UInt8] {
        try POSIXFile<Failure>.read(fd, count: count, at: offset, path: path)
    }
    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(Failure) -> Int {
        try POSIXFile<Failure>.read(fd, into: buffer, at: offset, path: path)
    }
    package func write(_ bytes: [UInt8], at offset: Int64) throws(Failure) {
        try POSIXFile<Failure>.write(fd, bytes, at: offset, path: path)
    }
    package func sync() throws(Failure) { try POSIXFile<Failure>.sync(fd, path: path) }
    package func truncate(to size: Int64) throws(Failure) { try POSIXFile<Failure>.truncate(fd, to: size, path: path) }
    package var identity: FileIdentity? { POSIXFile<Failure>.identity(fd) }
}

/// A file as the file system knows it, whatever its name: renaming a file over a name makes the
/// name refer to another identity, while an open descriptor keeps its own.
package struct FileIdentity: Hashable, Sendable {
    package var device: UInt64
    package var inode: UInt64
}

/// Milliseconds since the Unix epoch by the wall clock.
package func wallClockMilliseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
}
