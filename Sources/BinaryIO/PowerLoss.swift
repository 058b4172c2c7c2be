import FaultInjection
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A power loss, simulated for the crash campaign. A killed process leaves the page cache
/// intact, so a kill never loses a write that was not fsynced; a machine that loses power
/// does. With `OUTFLOW_FAULT_POWER_LOSS=1` the file layer keeps, per file written, how many of
/// its bytes an fsync made durable, and which files were created in a directory not fsynced
/// since; when an armed crash point fires (`CrashPoint.onCrash`), before the process aborts,
/// every such file is cut back to its durable size and every file whose directory entry was
/// never made durable is removed — what the disk would hold after the power came back.
///
/// What it does not model: bytes overwritten in place below the durable size keep their new
/// value (the log only appends and replaces files by rename), a deletion is taken as durable at
/// once (a deleted segment that came back would be older than the log start and is removed
/// again at open), and a rename is taken as durable (`writeAtomically` syncs the directory
/// right after it).
package enum PowerLoss {
    package static let isSimulated: Bool = {
        guard let value = getenv("OUTFLOW_FAULT_POWER_LOSS"), String(cString: value) == "1" else { return false }
        CrashPoint.onCrash { PowerLoss.lose() }
        return true
    }()

    private static let state = Mutex(PowerLossLedger())

    /// Before `open`: a file about to be created has no durable entry yet.
    static func willOpen(_ path: String, flags: Int32) {
        guard isSimulated, flags & O_CREAT != 0, access(path, F_OK) != 0 else { return }
        state.withLock { $0.created(path, in: POSIXFile<FileError>.directory(of: path)) }
    }

    /// Before the first write to a file this process did not create: what it holds now was
    /// left by an earlier process, durable as far as this simulation goes.
    static func willWrite(_ fd: Int32, path: String) {
        guard isSimulated else { return }
        state.withLock { ledger in
            guard !ledger.tracks(path) else { return }
            var info = stat()
            ledger.firstWrite(path, sizeBefore: fstat(fd, &info) == 0 ? Int64(info.st_size) : 0)
        }
    }

    /// After an fsync: the file's bytes are durable; for a directory, the entries in it.
    static func didSync(_ fd: Int32, path: String) {
        guard isSimulated else { return }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        state.withLock { isDirectory ? $0.syncedDirectory(path) : $0.synced(path, size: Int64(info.st_size)) }
    }

    /// After a rename: the file is known by its new name.
    static func didRename(_ from: String, to: String) {
        guard isSimulated else { return }
        state.withLock { $0.renamed(from, to: to) }
    }

    /// After an unlink: nothing left to cut back.
    static func didRemove(_ path: String) {
        guard isSimulated else { return }
        state.withLock { $0.removed(path) }
    }

    /// The power goes: only what was made durable stays.
    static func lose() {
        let loss = state.withLock { $0.loss() }
        for path in loss.removed { unlink(path) }
        for (path, size) in loss.cutBack {
            var info = stat()
            if stat(path, &info) == 0, Int64(info.st_size) > size { _ = Glibc.truncate(path, off_t(size)) }
        }
        let line = "outflow: power loss simulated: \(loss.cutBack.count) written files kept only their fsynced bytes, "
            + "\(loss.removed.count) files never made durable removed\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}

/// What a power loss takes, kept as the file layer works: per file written, the bytes an
/// fsync made durable; per directory, the files created in it since its last fsync.
package struct PowerLossLedger: Sendable {
    private var durableSize: [String: Int64] = [:]
    private var unsyncedEntries: [String: Set<String>] = [:]

    package init() {}

    package func tracks(_ path: String) -> Bool { durableSize[path] != nil }

    /// A new file: nothing of it is durable, not even its name.
    package mutating func created(_ path: String, in directory: String) {
        unsyncedEntries[directory, default: []].insert(path)
        durableSize[path] = 0
    }

    /// The first write to a file an earlier process left: what it holds is durable.
    package mutating func firstWrite(_ path: String, sizeBefore: Int64) {
        if durableSize[path] == nil { durableSize[path] = sizeBefore }
    }

    package mutating func synced(_ path: String, size: Int64) { durableSize[path] = size }

    /// The directory's entries are durable: files created in it survive.
    package mutating func syncedDirectory(_ directory: String) { unsyncedEntries[directory] = nil }

    package mutating func renamed(_ from: String, to: String) {
        if let size = durableSize.removeValue(forKey: from) { durableSize[to] = size }
        for (directory, var entries) in unsyncedEntries where entries.remove(from) != nil { unsyncedEntries[directory] = entries }
    }

    package mutating func removed(_ path: String) {
        durableSize[path] = nil
        for (directory, var entries) in unsyncedEntries where entries.remove(path) != nil { unsyncedEntries[directory] = entries }
    }

    /// The files to remove (their entry never durable) and the sizes to cut the others back to.
    package func loss() -> (removed: [String], cutBack: [(path: String, size: Int64)]) {
        let removed = unsyncedEntries.values.flatMap { $0 }.sorted()
        let gone = Set(removed)
        let cutBack = durableSize.filter { !gone.contains($0.key) }.map { (path: $0.key, size: $0.value) }.sorted { $0.path < $1.path }
        return (removed, cutBack)
    }
}
