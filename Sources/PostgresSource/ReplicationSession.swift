import BinaryIO
import FaultInjection
import Logging
import PGOutput
#if canImport(Glibc)
import Glibc
#endif

/// How to stream from a slot.
public struct ReplicationSettings: Sendable {
    public var connectionString: ConnectionString
    public var slot: String
    public var publications: [String]
    /// nil: the highest the server supports (3 on PostgreSQL 15, 4 from 16).
    public var protocolVersion: Int?
    /// Decode `pg_logical_emit_message` messages (heartbeats, application markers).
    public var messages = true
    /// Stream large in-progress transactions (protocol 2+).
    public var streaming = false
    /// Decode prepared transactions at PREPARE TRANSACTION (protocol 3+): Begin Prepare …
    /// Prepare, then Commit Prepared or Rollback Prepared. A slot created with TWO_PHASE
    /// does so anyway; on another slot this turns it on from the start position onwards.
    public var twoPhase = false
    public var statusInterval: Duration = .seconds(10)
    public var applicationName = "outflow"
    /// Settings for the walsender session, e.g. `logical_decoding_work_mem`.
    public var sessionSettings: [String: String] = [:]
    /// Waits between reconnection attempts: doubling from `initial` up to `maximum`.
    public var reconnectBackoff: (initial: Duration, maximum: Duration) = (.milliseconds(200), .seconds(30))
    /// Give up after this many failed reconnection attempts in a row (nil: never).
    public var maximumReconnectAttempts: Int? = nil
    /// When set, a transactional `pg_logical_emit_message` is written this often while the
    /// stream is quiet, over an ordinary connection: a tiny transaction that flows through the
    /// slot and lets it advance even when the published tables never change (WAL of other
    /// databases on the server otherwise piles up behind an idle slot).
    public var heartbeatInterval: Duration?

    public init(connectionString: ConnectionString, slot: String, publications: [String]) {
        self.connectionString = connectionString
        self.slot = slot
        self.publications = publications
    }
}

/// A replication stream from one slot, as a sequence of `SourceEvent`s.
///
/// It answers keepalives, sends status updates on time, acknowledges only what the caller
/// reported durable (`markDurable`) — a transaction by its Commit end LSN — and reconnects
/// with backoff when the connection is lost, resuming from the last durable position.
/// Blocking by design: it runs on a thread of its own, the pipeline's source thread.
public final class ReplicationSession {
    public let settings: ReplicationSettings
    public private(set) var protocolVersion = 0
    public private(set) var serverVersion = 0
    var connection: PostgresConnection?
    var stream: CopyBothStream?
    var decoder = PGOutputDecoder(protocolVersion: 1)
    public private(set) var assembler = TransactionAssembler()
    public private(set) var feedback: FeedbackPolicy
    /// Bytes of replication frames received since the session began (across reconnects).
    public private(set) var bytesReceived = 0
    let logger: Logger
    private var pendingRestart: LSN?
    private var heartbeatConnection: PostgresConnection?
    private var lastActivity = ContinuousClock.now
    public static let heartbeatPrefix = "outflow.heartbeat"

    /// Connects and starts streaming after `durable` (the consumer's last durable position;
    /// `.zero` to start at the slot's confirmed position).
    public init(settings: ReplicationSettings, durable: LSN = .zero, logger: Logger = Logger(label: "outflow.source")) throws(PostgresError) {
        self.settings = settings
        self.logger = logger
        self.feedback = FeedbackPolicy(statusInterval: settings.statusInterval, durable: durable)
        try start()
    }

    deinit { close() }

    /// The position Postgres was last told is durable.
    public var acknowledged: LSN { feedback.lastSentFlush }

    /// Never move the slot (dry runs): status updates still go out, with no flush position.
    public var acknowledgementsDisabled = false

    /// The sink made everything up to `lsn` durable (a Commit's end LSN).
    public func markDurable(_ lsn: LSN) {
        guard !acknowledgementsDisabled else { return }
        feedback.noteDurable(lsn)
    }

    /// The next event, waiting at most `timeoutMilliseconds`; nil when none arrived in time.
    public func next(timeoutMilliseconds: Int32) throws(PostgresError) -> SourceEvent? {
        if let resume = pendingRestart {
            pendingRestart = nil
            return .restarted(resumeFrom: resume)
        }
        // One clock read per frame while frames keep coming: this runs for every message.
        var now = ContinuousClock.now
        var deadline = now.advanced(by: .milliseconds(Int64(timeoutMilliseconds)))
        while true {
            do {
                switch try step(until: deadline, now: now) {
                case .event(let event): return event
                // A keepalive or a frame that makes no event is not a pause in the stream (the
                // walsender sends a keepalive each time it catches up): go on reading what has
                // arrived, but do not wait for more — the caller may act on what it carried
                // (a position to acknowledge, a stop condition) as soon as the socket is empty.
                case .consumed:
                    now = .now
                    deadline = min(deadline, now)
                case .nothing:
                    now = .now
                    if now >= deadline { return nil }
                }
            } catch let error where error.code == .connectionLost || error.code == .connectionFailed {
                try reconnect(after: error)
                pendingRestart = nil
                return .restarted(resumeFrom: feedback.durable)
            }
        }
    }

    /// Sends a final status (so the durable position is not lost) and ends the stream.
    public func close() {
        if let stream, stream.isOpen {
            try? sendStatus(force: true)
            stream.finish()
        }
        stream = nil
        connection = nil
    }

    /// Sends a status update now, whether or not one is due.
    public func sendStatus(force: Bool = false) throws(PostgresError) {
        try sendStatus(force: force, now: .now)
    }

    private func sendStatus(force: Bool = false, now: ContinuousClock.Instant) throws(PostgresError) {
        guard let stream else { return }
        if force { feedback.noteKeepalive(walEnd: .zero, replyRequested: true, idle: false) }
        if let update = feedback.statusUpdate(at: now, clock: .now) {
            CrashPoint.hit("source.status.before-send")
            try stream.send(update.encode())
            CrashPoint.hit("source.status.after-send")
            logger.trace("status sent", metadata: ["outflow.flush": "\(update.flushed)", "outflow.written": "\(update.written)"])
        }
    }

    private enum Step {
        case event(SourceEvent)
        /// A frame was read that makes no event (a keepalive, a relation, an unknown frame).
        case consumed
        /// Nothing arrived before the deadline.
        case nothing
    }

    private func step(until deadline: ContinuousClock.Instant, now: ContinuousClock.Instant) throws(PostgresError) -> Step {
        guard let stream else { throw PostgresError(code: .connectionLost, message: "the replication stream is closed") }
        try sendStatus(now: now)
        let wakeUp = min(deadline, feedback.nextStatusDue(after: now))
        let wait = max(0, min(Int64(Int32.max), (wakeUp - now).millisecondsRoundedUp))
        guard let bytes = try stream.receive(timeoutMilliseconds: Int32(wait)) else {
            heartbeatIfQuiet()
            return .nothing
        }
        lastActivity = wait > 0 ? .now : now  // a frame that was already there arrived "now"
        bytesReceived += bytes.count
        let frame: ReplicationFrame
        do { frame = try ReplicationFrame.decode(from: bytes) } catch { throw malformed(error) }
        switch frame {
        case .xLogData(let data):
            feedback.noteReceived(walEnd: data.walEnd)
            let message: PGOutputMessage
            do { message = try decoder.decode(data.payload) } catch { throw malformed(error) }
            if case .unknown(let tag, _) = message {
                logger.warning("skipping a pgoutput message of unknown type", metadata: ["outflow.tag": "\(tag)", "outflow.lsn": "\(data.walStart)"])
            }
            let event = try assembler.apply(message, at: data.walStart)
            switch event {
            case .commit(let commit)?, .streamCommit(let commit)?:
                feedback.noteHandedOver(commitEnd: commit.endLSN)
            case .prepare(let prepare)?:
                feedback.noteHandedOver(commitEnd: prepare.endLSN)
            case .commitPrepared(let commit)?:
                feedback.noteHandedOver(commitEnd: commit.endLSN)
            default:
                break
            }
            return event.map(Step.event) ?? .consumed
        case .primaryKeepalive(let keepalive):
            feedback.noteKeepalive(walEnd: keepalive.walEnd, replyRequested: keepalive.replyRequested, idle: assembler.isIdle && !acknowledgementsDisabled)
            if keepalive.replyRequested { try sendStatus() }
            return .consumed
        case .unknown(let tag, _):
            logger.warning("skipping a replication frame of unknown type", metadata: ["outflow.tag": "\(tag)"])
            return .consumed
        }
    }

    /// A heartbeat is a transaction of its own in the source database (Begin, the message,
    /// Commit): acknowledging it moves the slot even when the captured tables are quiet. It never
    /// stops the stream: a failure is a warning, and the next interval tries again.
    private func heartbeatIfQuiet() {
        guard let interval = settings.heartbeatInterval, ContinuousClock.now - lastActivity >= interval else { return }
        lastActivity = .now
        do throws(PostgresError) {
            let connection: PostgresConnection
            if let open = heartbeatConnection {
                connection = open
            } else {
                connection = try PostgresConnection(settings.connectionString, applicationName: settings.applicationName + "-heartbeat")
                heartbeatConnection = connection
            }
            try connection.execute("SELECT pg_logical_emit_message(true, '\(Self.heartbeatPrefix)', '')")
        } catch {
            heartbeatConnection = nil  // reconnect next time; a missed heartbeat is harmless
            logger.warning("heartbeat failed", metadata: ["outflow.error": "\(error.message)"])
        }
    }

    private func malformed(_ error: PGOutputError) -> PostgresError {
        PostgresError(code: .protocolViolation, message: "malformed data from the server: \(error)")
    }

    private func start() throws(PostgresError) {
        let connection = try PostgresConnection(settings.connectionString, mode: .replication, applicationName: settings.applicationName)
        serverVersion = connection.serverVersion
        guard serverVersion >= minimumServerVersion else {
            throw PostgresError(code: .serverTooOld, message: "PostgreSQL \(serverVersion / 10000) is too old: Outflow needs 15 or newer", hint: "upgrade the server")
        }
        for (name, value) in settings.sessionSettings.sorted(by: { $0.key < $1.key }) {
            try connection.execute("SET \(try connection.quoteIdentifier(name)) = \(try connection.quoteLiteral(value))")
        }
        let supported = serverVersion >= 160000 ? 4 : 3
        protocolVersion = min(settings.protocolVersion ?? supported, supported)
        try connection.requireValidSlotName(settings.slot)
        var publicationList: [String] = []
        for publication in settings.publications { publicationList.append(try connection.quoteIdentifier(publication)) }
        var options = [
            "proto_version '\(protocolVersion)'",
            "publication_names \(try connection.quoteLiteral(publicationList.joined(separator: ",")))",
        ]
        if settings.messages { options.append("messages 'true'") }
        if settings.streaming && protocolVersion >= 2 { options.append("streaming 'on'") }
        if settings.twoPhase && protocolVersion >= 3 { options.append("two_phase 'on'") }
        // Start after the durable position; the server forwards to the slot's confirmed
        // position when that is further on (a logical slot cannot be rewound).
        let command = "START_REPLICATION SLOT \(settings.slot) LOGICAL \(feedback.durable) (\(options.joined(separator: ", ")))"
        let stream = try CopyBothStream(connection: connection, command: command)
        decoder = PGOutputDecoder(protocolVersion: protocolVersion, streaming: settings.streaming ? .on : .off)
        assembler.reset()
        self.connection = connection
        self.stream = stream
        logger.info("streaming", metadata: [
            "outflow.slot": "\(settings.slot)", "outflow.from": "\(feedback.durable)", "outflow.proto_version": "\(protocolVersion)",
        ])
    }

    private func reconnect(after error: PostgresError) throws(PostgresError) {
        stream = nil
        connection = nil
        var delay = settings.reconnectBackoff.initial
        var attempts = 0
        var lastError = error
        while true {
            if let maximum = settings.maximumReconnectAttempts, attempts >= maximum { throw lastError }
            logger.warning("replication connection lost; reconnecting", metadata: [
                "outflow.error": "\(lastError.message)", "outflow.retry_in_ms": "\(delay.milliseconds)",
            ])
            sleep(for: delay)
            attempts += 1
            do {
                try start()
                return
            } catch let failure where failure.code == .connectionLost || failure.code == .connectionFailed || failure.sqlState == "55006" {
                // 55006 object_in_use: the old walsender has not noticed the lost connection yet.
                lastError = failure
                delay = min(delay * 2, settings.reconnectBackoff.maximum)
            }
        }
    }
}

extension PostgresTimestamp {
    /// The wall clock now, for the `clock` field of status updates.
    static var now: PostgresTimestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return PostgresTimestamp(unixSeconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }
}
