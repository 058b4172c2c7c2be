import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Progress of long work on standard error: on a terminal one live line, rewritten in place at
/// most ten times a second; otherwise (a pipe, a log collector) a plain line every few seconds,
/// so the log is not flooded. Standard output stays data only.
struct ProgressLine {
    private let live: Bool
    private let interval: Duration
    private var last: ContinuousClock.Instant?
    private var shown = false

    init(live: Bool = isatty(STDERR_FILENO) != 0, every interval: Duration = .seconds(2)) {
        self.live = live
        self.interval = live ? .milliseconds(100) : interval
    }

    /// Shows `text` if the last line is old enough (always the first time).
    mutating func update(_ text: @autoclosure () -> String) {
        let now = ContinuousClock.now
        if let last, now - last < interval { return }
        last = now
        write(text())
    }

    /// Ends the live line (the next output starts on a line of its own); nothing otherwise.
    mutating func finish() {
        if live && shown { FileHandle.standardError.write(Data("\n".utf8)) }
        shown = false
    }

    private mutating func write(_ text: String) {
        shown = true
        // On a terminal: back to the start of the line and clear it, then the new text.
        FileHandle.standardError.write(Data((live ? "\r\u{1B}[K\(text)" : "\(text)\n").utf8))
    }
}
