import FaultInjection
import PGOutput
import SegmentLog

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The at-least-once checkpoint: the source position, kept beside the log (not in it) in
/// `<log dir>/outflow.position`, one line `at_least_once <Commit end LSN>`.
///
/// Replaced atomically: a temporary file written and fsynced, renamed over the old one, the
/// directory fsynced. A crash leaves the old position or the new, never a mix; the old one
/// is behind the data, which is what at-least-once allows (the difference is read again).
public enum SourcePositionFile {
    public static let name = "outflow.position"

    public static func path(in directory: String) -> String { directory + "/" + name }

    /// The position stored in `directory`, nil when there is none.
    public static func read(directory: String) throws(PipelineError) -> LSN? {
        let path = path(in: directory)
        guard let file = fopen(path, "r") else {
            if errno == ENOENT { return nil }
            throw PipelineError(.checkpoint, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 256)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else {
            throw PipelineError(.checkpoint, "\(path) is empty: it should hold the at-least-once source position")
        }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, fields[0] == "at_least_once", let lsn = LSN(String(fields[1])) else {
            throw PipelineError(.checkpoint, "\(path) does not hold a source position (\"at_least_once X/Y\"): \(line)")
        }
        return lsn
    }

    /// Durably replaces the stored position with `lsn`.
    public static func write(_ lsn: LSN, directory: String) throws(PipelineError) {
        let path = path(in: directory)
        let temporary = path + ".tmp"
        let bytes = Array("at_least_once \(lsn)\n".utf8)
        func failure(_ operation: String, _ file: String) -> PipelineError {
            PipelineError(.checkpoint, "writing the source position: \(operation) \(file) failed: \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("open", temporary) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            close(fd)
            throw failure("write", temporary)
        }
        guard fsync(fd) == 0 else {
            close(fd)
            throw failure("fsync", temporary)
        }
        close(fd)
        CrashPoint.hit("runner.position.after-temp-write")
        guard rename(temporary, path) == 0 else { throw failure("rename", path) }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw failure("open", directory) }
        defer { close(directoryFD) }
        guard fsync(directoryFD) == 0 else { throw failure("fsync", directory) }
    }
}

/// The highest source position (`outflow.lsn`) of any record in the log, committed or not:
/// what at-most-once resumes after, so that nothing it ever wrote is written again.
enum LogTail {
    static func highestSourceLSN(directory: String) throws(SegmentLogError) -> LSN? {
        let reader = try LogReader(directory: directory)
        var highest: UInt64?
        for partition in try reader.partitions() {
            let partitionReader = try reader.open(partition, isolation: .readUncommitted)
            let start = try partitionReader.logStartOffset()
            var offset = try partitionReader.endOffset() - 1
            // Step back over trailing control batches (markers) to the last data record.
            while offset >= start {
                try partitionReader.seek(toOffset: offset)
                if let lsn = try partitionReader.poll(maxRecords: 1_000_000).compactMap(\.record.sourceLSN).max() {
                    highest = max(highest ?? 0, lsn)
                    break
                }
                offset -= 1
            }
        }
        return highest.map { LSN($0) }
    }
}
