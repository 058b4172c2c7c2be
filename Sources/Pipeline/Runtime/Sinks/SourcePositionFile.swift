import BinaryIO
import FaultInjection
import PGOutput

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
        let bytes: [UInt8]
        do throws(FileError) {
            // A line of at most 256 bytes: anything larger is not a position file.
            guard let contents = try POSIXFile<FileError>.readFile(path, limit: 256) else { return nil }
            bytes = contents
        } catch {
            throw PipelineError(.checkpoint, "cannot read \(path): \(error.reason)", underlying: error)
        }
        guard !bytes.isEmpty else {
            throw PipelineError(.checkpoint, "\(path) is empty: it should hold the at-least-once source position")
        }
        let line = String(decoding: bytes, as: UTF8.self)
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, fields[0] == "at_least_once", let lsn = LSN(fields[1]) else {
            throw PipelineError(.checkpoint, "\(path) does not hold a source position (\"at_least_once X/Y\"): \(line)")
        }
        return lsn
    }

    /// Durably replaces the stored position with `lsn`.
    public static func write(_ lsn: LSN, directory: String) throws(PipelineError) {
        let path = path(in: directory)
        do throws(FileError) {
            try POSIXFile<FileError>.writeAtomically(path, Array("at_least_once \(lsn)\n".utf8)) {
                CrashPoint.hit("runner.position.after-temp-write")
            }
        } catch {
            throw PipelineError(.checkpoint, "writing the source position: \(error)", underlying: error)
        }
    }
}
