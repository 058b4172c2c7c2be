import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// The CopyBoth phase of a replication connection after START_REPLICATION: CopyData
/// messages in both directions, read without blocking the connection so that the caller can
/// send status updates on time while nothing arrives.
///
/// This type moves bytes only; what they mean (XLogData, keepalives, status updates) is the
/// `PGOutput` module's business.
public final class CopyBothStream {
    let connection: PostgresConnection
    private(set) public var isOpen = true

    /// Starts streaming: `command` is a START_REPLICATION command; the server must answer
    /// with CopyBoth.
    public init(connection: PostgresConnection, command: String) throws(PostgresError) {
        guard let result = PQexec(connection.handle, command) else {
            throw connection.connectionError("START_REPLICATION got no answer")
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COPY_BOTH else {
            if PQresultStatus(result) == PGRES_FATAL_ERROR { throw connection.serverError(result) }
            throw PostgresError(
                code: .protocolViolation,
                message: "START_REPLICATION answered \(String(cString: PQresStatus(PQresultStatus(result)))) instead of CopyBoth")
        }
        guard PQsetnonblocking(connection.handle, 1) == 0 else {
            throw connection.connectionError("could not make the replication connection non-blocking")
        }
        self.connection = connection
    }

    /// The next CopyData message, waiting at most `timeoutMilliseconds` (0: only what has
    /// already arrived).
    /// Returns nil when nothing arrived in time. Throws when the server ended the stream or
    /// the connection failed.
    public func receive(timeoutMilliseconds: Int32) throws(PostgresError) -> [UInt8]? {
        if let message = try readBuffered() { return message }
        guard try waitForSocket(events: Int16(POLLIN), timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        guard PQconsumeInput(connection.handle) == 1 else {
            throw lost("the replication connection failed while reading")
        }
        return try readBuffered()
    }

    /// Reads one message libpq already has, without touching the socket.
    private func readBuffered() throws(PostgresError) -> [UInt8]? {
        var buffer: UnsafeMutablePointer<CChar>? = nil
        let length = PQgetCopyData(connection.handle, &buffer, 1)
        if length > 0, let buffer {
            defer { PQfreemem(buffer) }
            return buffer.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
                Array(UnsafeBufferPointer(start: $0, count: Int(length)))
            }
        }
        switch length {
        case 0:
            return nil
        case -1:
            isOpen = false
            throw endOfStream()
        default:
            isOpen = false
            throw lost("the replication stream failed")
        }
    }

    /// Sends one CopyData message and flushes it, waiting for the socket as needed.
    public func send(_ bytes: [UInt8]) throws(PostgresError) {
        let queued = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(connection.handle, $0.baseAddress, Int32($0.count)) }
        }
        guard queued == 1 else { throw lost("could not send to the replication connection") }
        while true {
            let flushed = PQflush(connection.handle)
            if flushed == 0 { return }
            guard flushed == 1 else { throw lost("could not send to the replication connection") }
            // The socket is full: wait until it drains, reading meanwhile so the server can't block on us.
            _ = try waitForSocket(events: Int16(POLLOUT | POLLIN), timeoutMilliseconds: 1000)
            guard PQconsumeInput(connection.handle) == 1 else { throw lost("the replication connection failed while sending") }
        }
    }

    /// Ends the stream from our side (CopyDone) and reads what the server answers, so that
    /// the connection can run commands again.
    public func finish() {
        guard isOpen else { return }
        isOpen = false
        _ = PQputCopyEnd(connection.handle, nil)
        _ = PQflush(connection.handle)
        PQsetnonblocking(connection.handle, 0)
        // Drain the rest of the copy and every result, as libpq requires before the next command.
        var buffer: UnsafeMutablePointer<CChar>? = nil
        while PQgetCopyData(connection.handle, &buffer, 0) > 0 {
            PQfreemem(buffer)
            buffer = nil
        }
        while let result = PQgetResult(connection.handle) { PQclear(result) }
    }

    private func waitForSocket(events: Int16, timeoutMilliseconds: Int32) throws(PostgresError) -> Bool {
        let socket = PQsocket(connection.handle)
        guard socket >= 0 else { throw lost("the replication connection has no socket") }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while true {
            let ready = poll(&descriptor, 1, timeoutMilliseconds)
            if ready >= 0 { return ready > 0 }
            if errno != EINTR { throw lost("waiting on the replication connection failed (errno \(errno))") }
        }
    }

    private func endOfStream() -> PostgresError {
        // The server ended COPY: its final result says why (e.g. the slot was dropped or taken).
        var error = PostgresError(code: .connectionLost, message: "the server ended the replication stream")
        while let result = PQgetResult(connection.handle) {
            if PQresultStatus(result) == PGRES_FATAL_ERROR { error = connection.serverError(result) }
            PQclear(result)
        }
        if error.code == .queryFailed { error.code = .connectionLost }
        return error
    }

    private func lost(_ what: String) -> PostgresError {
        let reason = String(cString: PQerrorMessage(connection.handle)).trimmedTrailingNewlines
        return PostgresError(code: .connectionLost, message: reason.isEmpty ? what : "\(what): \(reason)")
    }
}
