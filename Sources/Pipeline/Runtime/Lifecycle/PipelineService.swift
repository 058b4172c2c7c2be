import Foundation
import ServiceLifecycle
import UnixSignals
import Synchronization

/// The pipeline as a service of the process's `ServiceGroup`. The source and the sink are
/// blocking I/O (libpq, the log's files), so the pipeline runs on a thread of its own; the
/// service waits for it. A graceful shutdown (the first SIGINT / SIGTERM, or the group stopping)
/// asks it to finish the source transaction in progress, commit, acknowledge and return.
///
/// Services added later (the metrics endpoint, the Kafka endpoint) go before it in the group:
/// a group shuts its services down in reverse order, so the pipeline stops first and they
/// still serve what it committed last.
public final class PipelineService: Service, Sendable {
    private let stopRequested = Atomic<Bool>(false)
    private let exitStatus = Atomic<Int32>(0)
    private let body: @Sendable (_ shouldStop: @escaping @Sendable () -> Bool) -> Int32

    /// `body` runs the pipeline until `shouldStop` turns true and returns the process's exit status.
    public init(body: @escaping @Sendable (_ shouldStop: @escaping @Sendable () -> Bool) -> Int32) {
        self.body = body
    }

    /// The status the pipeline returned (0 until it has).
    public var status: Int32 { exitStatus.load(ordering: .acquiring) }

    public var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }

    public func requestStop() { stopRequested.store(true, ordering: .releasing) }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                guard let status = await DedicatedThread.run({ [self] in body { self.isStopRequested } }) else {
                    FileHandle.standardError.write(Data("outflow: cannot start the pipeline's thread\n".utf8))
                    exitStatus.store(1, ordering: .releasing)
                    return
                }
                exitStatus.store(status, ordering: .releasing)
            } onCancel: {
                requestStop()
            }
        } onGracefulShutdown: {
            self.requestStop()
        }
    }
}

/// Exits the process at once on the second SIGINT / SIGTERM, while the first one's graceful
/// shutdown is still under way — safe, because recovery aborts whatever log transaction was
/// open. Put it first in the group, so that it is the last service shut down.
public struct SecondSignalExit: Service {
    let onFirst: @Sendable (UnixSignal) -> Void

    /// `onFirst` says what the first signal does (a line for the person who sent it).
    public init(onFirst: @escaping @Sendable (UnixSignal) -> Void) { self.onFirst = onFirst }

    public func run() async throws {
        var seen = 0
        for await signal in await UnixSignalsSequence(trapping: .sigint, .sigterm).cancelOnGracefulShutdown() {
            seen += 1
            guard seen >= 2 else {
                onFirst(signal)
                continue
            }
            FileHandle.standardError.write(Data("outflow: second signal, exiting now\n".utf8))
            exit(signal == .sigint ? 130 : 143)
        }
    }
}
