import BinaryIO
import FaultInjection
import Foundation
import PostgresSource

/// What the outbox cleaner keeps between runs, beside the pipeline's other state
/// (`<state dir>/outbox-cleanup.<schema>.<table>.json`): the watermarks (so a restart does not
/// wait a whole retention again — losing them only delays cleanup, it is never unsafe) and the
/// figures `outflow status` shows. Replaced atomically.
public struct OutboxCleanupState: Codable, Sendable, Equatable {
    public var table: String
    /// Oldest first.
    public var watermarks: [CleanupWatermark] = []
    public var lastCleaned: CleanupWatermark?
    public var rowsDeleted: Int64 = 0
    public var partitionsDropped: Int64 = 0
    /// Seconds since the oldest row left was inserted (nil: the table is empty or not yet looked at).
    public var oldestRowAgeSeconds: Double?
    /// When the last run ended (seconds since the epoch, the server's clock) and its error, if it failed.
    public var lastRunTime: Double?
    public var lastError: String?

    public init(table: String) { self.table = table }

    static let prefix = "outbox-cleanup."

    public static func path(stateDirectory: String, table: TableName) -> String {
        "\(stateDirectory)/\(prefix)\(table.schema).\(table.name).json"
    }

    /// The state at `path`; nil when there is none or it cannot be read (a fresh start: only a delay).
    public static func read(_ path: String) -> OutboxCleanupState? {
        guard let bytes = try? POSIXFile<FileError>.readFile(path, limit: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(OutboxCleanupState.self, from: Data(bytes))
    }

    /// Every cleanup state in `stateDirectory` (for `outflow status`).
    public static func readAll(stateDirectory: String) -> [OutboxCleanupState] {
        guard let names = try? POSIXFile<FileError>.listDirectory(stateDirectory) else { return [] }
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
            .compactMap { read("\(stateDirectory)/\($0)") }
    }

    func write(_ path: String) throws(FileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(self)).map { [UInt8]($0) } ?? []
        try POSIXFile<FileError>.createDirectory(POSIXFile<FileError>.directory(of: path), intermediate: true)
        try POSIXFile<FileError>.writeAtomically(path, bytes) { CrashPoint.hit("cleanup.state.after-temp-write") }
    }
}
