import BinaryIO
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Exclusive ownership of a log directory by the writers of this process: holds the `flock`
/// on `<dir>/.lock` (so another process cannot open a writer) and the epoch of the one writer
/// allowed to write. A newer writer in this process takes the lease over and bumps the epoch;
/// every operation of an older one then fails as fenced. Operations run under the lease's
/// mutex, so a takeover never lands in the middle of an append or a commit.
final class DirectoryLease: Sendable {
    private let lockDescriptor: Int32
    let path: String
    private let currentEpoch: Mutex<ProducerIdentity?>

    private static let leases = Mutex<[String: DirectoryLease]>([:])

    private init(path: String, lockDescriptor: Int32) {
        self.path = path
        self.lockDescriptor = lockDescriptor
        self.currentEpoch = Mutex(nil)
    }

    /// The lease of `path` for this process, taking the file lock the first time.
    static func acquire(_ path: String) throws(SegmentLogError) -> DirectoryLease {
        let result: Result<DirectoryLease, SegmentLogError> = leases.withLock { leases in
            if let lease = leases[path] { return .success(lease) }
            let lockPath = path + "/.lock"
            let fd: Int32
            do throws(SegmentLogError) { fd = try FileIO.open(lockPath, O_RDWR | O_CREAT) } catch { return .failure(error) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                close(fd)
                if code == EWOULDBLOCK {
                    return .failure(SegmentLogError(.logLocked, "another process has a writer open on this log", path: lockPath))
                }
                return .failure(SegmentLogError(FileError.systemCall("flock", lockPath, code)))
            }
            let lease = DirectoryLease(path: path, lockDescriptor: fd)
            leases[path] = lease
            return .success(lease)
        }
        return try result.get()
    }

    /// Makes `producer` the only identity allowed to write, fencing the previous one.
    func install(_ producer: ProducerIdentity) {
        currentEpoch.withLock { $0 = producer }
    }

    /// Runs `body` if `producer` still holds the lease.
    func whileHeld<T>(by producer: ProducerIdentity, _ body: () throws(SegmentLogError) -> T) throws(SegmentLogError) -> T {
        let result: Result<T, SegmentLogError> = currentEpoch.withLock { current in
            guard current == producer else {
                return .failure(SegmentLogError(
                    .producerFenced,
                    "writer \(producer) was fenced by a newer writer \(current.map(String.init(describing:)) ?? "(closed)") on this log",
                    path: path))
            }
            do throws(SegmentLogError) { return .success(try body()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Gives the directory up if `producer` still holds it: unlocks the file for others.
    func release(by producer: ProducerIdentity) {
        let released = currentEpoch.withLock { current -> Bool in
            guard current == producer else { return false }
            current = nil
            return true
        }
        guard released else { return }
        Self.leases.withLock { leases in
            if leases[path] === self {
                leases[path] = nil
                flock(lockDescriptor, LOCK_UN)
                close(lockDescriptor)
            }
        }
    }
}
