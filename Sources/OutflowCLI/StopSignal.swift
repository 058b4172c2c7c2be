import Dispatch
import Foundation
import Synchronization

/// SIGINT / SIGTERM handling for long-running commands: the first signal asks the command to
/// stop cleanly (drain, commit, acknowledge); a second one exits at once — safe, because
/// recovery aborts whatever log transaction was open.
final class StopSignal: @unchecked Sendable {
    // Mutable state is the flag (behind its mutex) and `sources`, written only in `install`
    // before any handler can run.
    private let requested = Mutex(false)
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "outflow.signals")

    var isRequested: Bool { requested.withLock { $0 } }

    /// Installs the handlers; `onFirst` runs (on a background queue) when the first signal arrives.
    func install(onFirst: @escaping @Sendable (Int32) -> Void = { _ in }) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)  // the dispatch source handles it instead
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [self] in
                let again = requested.withLock { wasRequested in
                    defer { wasRequested = true }
                    return wasRequested
                }
                if again {
                    FileHandle.standardError.write(Data("outflow: second signal, exiting now\n".utf8))
                    exit(signalNumber == SIGINT ? 130 : 143)
                }
                onFirst(signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }

    func request() { requested.withLock { $0 = true } }
}
