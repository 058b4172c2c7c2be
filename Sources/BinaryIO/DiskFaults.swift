import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Disk errors, injected for the crash campaign: `OUTFLOW_FAULT_EIO=operation:n` makes the
/// file layer's n-th `operation` (`write`, `fsync` or `read`) fail with EIO, as a failing disk
/// would, and every later one of that kind too (a disk that failed once is not trusted to have
/// recovered). The process must stop with the error, never retry an fsync as if the data were
/// then safe (PostgreSQL's "fsyncgate": after a failed fsync the kernel may have dropped the
/// dirty pages, so a second fsync succeeding proves nothing), and a restart must recover from
/// what is durable. Unset, a check costs one load.
package enum DiskFaults {
    package enum Operation: String, Sendable {
        case write, fsync, read
    }

    private struct Armed {
        var operation: Operation
        var occurrence: Int
    }

    private static let armed: Armed? = {
        guard let value = getenv("OUTFLOW_FAULT_EIO") else { return nil }
        let text = String(cString: value)
        let parts = text.split(separator: ":")
        guard let name = parts.first, let operation = Operation(rawValue: String(name)) else { return nil }
        let occurrence = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
        return Armed(operation: operation, occurrence: max(1, occurrence))
    }()

    private static let counts = Mutex<[Operation: Int]>([:])

    /// True when this `operation` must fail with EIO.
    @inline(__always)
    static func fails(_ operation: Operation) -> Bool {
        guard let armed, armed.operation == operation else { return false }
        return failsSlow(armed)
    }

    @inline(never)
    private static func failsSlow(_ armed: Armed) -> Bool {
        let count = counts.withLock { counts in
            counts[armed.operation, default: 0] += 1
            return counts[armed.operation]!
        }
        guard count >= armed.occurrence else { return false }
        if count == armed.occurrence {
            let line = "outflow: injected EIO on \(armed.operation.rawValue) (occurrence \(count))\n"
            _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
        }
        return true
    }
}
