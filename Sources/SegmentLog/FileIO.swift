import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX wrappers: errors become `SegmentLogError(.io)` naming the file, EINTR is retried.
enum FileIO {
    static func error(_ operation: String, _ path: String, _ code: Int32 = errno) -> SegmentLogError {
        SegmentLogError(.io, "\(operation) failed: \(String(cString: strerror(code)))", path: path)
    }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(SegmentLogError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw error("open", path) }
        }
    }

    static func size(_ fd: Int32, path: String) throws(SegmentLogError) -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error("fstat", path) }
        return Int64(info.st_size)
    }

    /// Reads up to `count` bytes at `offset`; fewer only at end of file.
    static func read(_ fd: Int32, count: Int, at offset: Int64, path: String) throws(SegmentLogError) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: Int32 = 0
        buffer.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n > 0 { done += n } else if n == 0 { break } else if errno != EINTR { failure = errno; break }
            }
        }
        if failure != 0 { throw error("pread", path, failure) }
        if done < count { buffer.removeLast(count - done) }
        return buffer
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, path: String) throws(SegmentLogError) {
        var done = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                if n >= 0 { done += n } else if errno != EINTR { failure = errno; break }
            }
        }
        if failure != 0 { throw error("pwrite", path, failure) }
    }

    static func sync(_ fd: Int32, path: String) throws(SegmentLogError) {
        while fsync(fd) != 0 {
            if errno != EINTR { throw error("fsync", path) }
        }
        syncedSizes.withLock { recorded in
            if recorded != nil { recorded![path] = (try? size(fd, path: path)) ?? -1 }
        }
    }

    /// Crash tests switch this on (non-nil) to learn which bytes of each file were really
    /// fsynced: only the bytes after that point may be lost in a simulated crash.
    static let syncedSizes = Mutex<[String: Int64]?>(nil)

    static func truncate(_ fd: Int32, to size: Int64, path: String) throws(SegmentLogError) {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw error("ftruncate", path) }
        }
    }

    /// Makes a directory entry (a created, renamed or deleted file) durable.
    static func syncDirectory(_ path: String) throws(SegmentLogError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try sync(fd, path: path)
    }

    static func readFile(_ path: String, limit: Int = 64 << 20) throws(SegmentLogError) -> [UInt8]? {
        let fd: Int32
        do { fd = try open(path, O_RDONLY) } catch {
            if errno == ENOENT { return nil }
            throw error
        }
        defer { close(fd) }
        let size = try self.size(fd, path: path)
        guard size <= limit else { throw SegmentLogError(.corruptStateFile, "file of \(size) bytes is larger than expected", path: path) }
        return try read(fd, count: Int(size), at: 0, path: path)
    }

    /// Write to a temporary file, fsync it, rename it over `path`, fsync the directory: a
    /// reader sees the old content or the new, never a mix, even after a crash.
    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SegmentLogError) {
        let temporary = path + ".tmp"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try write(fd, bytes, at: 0, path: temporary)
            try sync(fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw self.error("rename", path) }
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }

    static func createDirectory(_ path: String) throws(SegmentLogError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw error("mkdir", path) }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func remove(_ path: String) throws(SegmentLogError) {
        if unlink(path) != 0 && errno != ENOENT { throw error("unlink", path) }
    }

    static func listDirectory(_ path: String) throws(SegmentLogError) -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw SegmentLogError(.io, "cannot list directory: \(error)", path: path)
        }
    }

    static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// An open file descriptor closed when the last reference goes away.
final class FileHandleBox {
    let fd: Int32
    let path: String

    init(path: String, flags: Int32) throws(SegmentLogError) {
        self.path = path
        self.fd = try FileIO.open(path, flags)
    }

    deinit { close(fd) }

    static func readOnly(_ path: String) throws(SegmentLogError) -> FileHandleBox {
        try FileHandleBox(path: path, flags: O_RDONLY)
    }

    func size() throws(SegmentLogError) -> Int64 { try FileIO.size(fd, path: path) }
    func read(count: Int, at offset: Int64) throws(SegmentLogError) -> [UInt8] { try FileIO.read(fd, count: count, at: offset, path: path) }
    func write(_ bytes: [UInt8], at offset: Int64) throws(SegmentLogError) { try FileIO.write(fd, bytes, at: offset, path: path) }
    func sync() throws(SegmentLogError) { try FileIO.sync(fd, path: path) }
    func truncate(to size: Int64) throws(SegmentLogError) { try FileIO.truncate(fd, to: size, path: path) }
}
