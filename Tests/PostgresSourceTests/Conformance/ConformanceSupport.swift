import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PGOutput
import PostgresSource
import Testing

// Helpers shared by the conformance corpus: each file under Conformance/ checks one area of
// what PostgreSQL sends against the sandbox server, with expected values taken from SQL.

extension ReplicationFixture {
    /// A session without logical messages: other tests' `pg_logical_emit_message` calls reach
    /// every slot of the database (transactional ones wrapped in their own Begin/Commit), so
    /// the corpus leaves them out to see only its own tables' transactions.
    func ownSession(durable: LSN = .zero, configure: (inout ReplicationSettings) -> Void = { _ in }) throws -> ReplicationSession {
        try session(durable: durable) { settings in
            settings.messages = false
            configure(&settings)
        }
    }

    /// The table's live columns in attnum order, from the catalog (dropped ones left out).
    func catalogColumns(_ table: String) throws -> [(name: String, typeOID: UInt32, typeModifier: Int32)] {
        try execute("""
            SELECT attname, atttypid::int8::text, atttypmod::text FROM pg_attribute
            WHERE attrelid = '\(table)'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """).rows.map { row in
            (row[0] ?? "", UInt32(row[1] ?? "") ?? 0, Int32(row[2] ?? "") ?? 0)
        }
    }

    /// The table's OID, from the catalog.
    func oid(_ table: String) throws -> UInt32 {
        try #require(try execute("SELECT '\(table)'::regclass::oid::int8::text AS oid").value("oid").flatMap { UInt32($0) })
    }

    /// The active walsender of the fixture's slot, if any.
    func walsenderPID() throws -> Int32? {
        try admin.execute("SELECT active_pid::text AS pid FROM pg_replication_slots WHERE slot_name = '\(slot)'")
            .value("pid").flatMap { Int32($0) }
    }
}

extension SourceChange {
    /// The new row's raw bytes by column name (nil for NULL), as the server sent them.
    var newBytes: [String: [UInt8]?] {
        var values: [String: [UInt8]?] = [:]
        for (column, value) in zip(relation.columns, newTuple?.columns ?? []) {
            switch value {
            case .null: values[column.name] = .some(nil)
            case .unchangedToast: values[column.name] = Array("<unchanged toast>".utf8)
            case .text(let bytes), .binary(let bytes): values[column.name] = Array(bytes)
            }
        }
        return values
    }
}

/// Sends the same statements on one connection in order; fails with the statement.
extension PostgresConnection {
    func run(_ statements: String...) throws {
        for statement in statements { try execute(statement) }
    }
}

/// The resident set size of this process (VmRSS of /proc/self/status), in bytes.
func residentSetSize() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int($0) })
    else { throw TimedOut(description: "no VmRSS in /proc/self/status") }
    return kilobytes * 1024
}

/// A second, separately configured PostgreSQL started with scripts/pg-sandbox for one test.
/// Stop it with `stop()` in a `defer` right after starting: the server outlives the process otherwise.
final class SandboxServer {
    let directory: URL
    let url: ConnectionString
    let adminURL: ConnectionString
    private var stopped = false

    struct ScriptFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// The package root: OUTFLOW_SOURCE_ROOT (set by scripts/test), else found from this file's path.
    static var sourceRoot: URL {
        if let root = ProcessInfo.processInfo.environment["OUTFLOW_SOURCE_ROOT"], !root.isEmpty {
            return URL(fileURLWithPath: root)
        }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // Conformance, PostgresSourceTests, Tests, file
        return url
    }

    /// Starts a server: `options` are pg-sandbox start options (`--wal-level replica`, `--set name=value`).
    init(_ options: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-second-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let started = try Self.script(["start", "--dir", directory.path] + options)
            url = try ConnectionString(started.trimmingCharacters(in: .whitespacesAndNewlines))
            adminURL = try ConnectionString(try Self.script(["url", "--dir", directory.path, "--admin"]).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            _ = try? Self.script(["stop", "--dir", directory.path])
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    deinit { stop() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? Self.script(["stop", "--dir", directory.path])
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs scripts/pg-sandbox and returns its standard output; throws with its error output on failure.
    /// (posix_spawn and waitpid rather than Foundation's Process: its waitUntilExit was seen
    /// never returning here, with the child already a zombie.)
    @discardableResult
    static func script(_ arguments: [String]) throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-sandbox-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputPath = scratch.appendingPathComponent("stdout").path, errorPath = scratch.appendingPathComponent("stderr").path
        let executable = sourceRoot.appendingPathComponent("scripts/pg-sandbox").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw ScriptFailed(description: "could not run \(executable): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw ScriptFailed(description: "waitpid failed: errno \(errno)") }
        }
        let exitedNormally = status & 0x7f == 0
        let exitCode = (status >> 8) & 0xff
        let standardOutput = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard exitedNormally && exitCode == 0 else {
            let standardError = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw ScriptFailed(description: "pg-sandbox \(arguments.joined(separator: " ")) failed (wait status \(status)): \(standardError)")
        }
        return standardOutput
    }
}
