// `outflow-bench capture`: records a real pgoutput stream for the decode micro-benchmark
// (Benchmarks/PGOutputDecode), so that it measures what a server sends rather than what the
// project's own encoders produce.

import Foundation
import PGOutput
import PostgresSource

/// How long the WAL end the server reports may stay where it is before the capture gives up:
/// that long without new WAL means END_LSN is beyond anything the server will send. (While
/// caught up, the walsender keeps answering our status updates with keepalives, so the
/// connection itself is never silent.)
let captureStallLimit = Duration.seconds(60)
/// How often to send a status update unasked: it keeps the walsender's keepalives coming
/// while it waits for WAL (each one may be the keepalive that reaches END_LSN).
let captureStatusInterval = Duration.seconds(10)

/// What a capture wrote.
struct CaptureSummary {
    var frames = 0
    /// The frames' bytes, without the length prefixes.
    var frameBytes = 0
    var protocolVersion = 0
    var lastWALEnd = LSN.zero
}

/// Streams `slot` from its confirmed position and appends every XLogData frame (the CopyData
/// bytes as received, starting with `w`) to `path`, each preceded by its length as a 4-byte
/// big-endian integer, until a frame or a keepalive reports a WAL end at or past `end`.
///
/// Acknowledges nothing (its status updates carry 0/0, "unknown"): the slot stays where it
/// was, so use a slot made for the capture and drop it afterwards.
func capture(url: String, slot: String, publication: String, end: LSN, path: String) throws -> CaptureSummary {
    guard isValidSlotName(slot) else {
        fail("capture: invalid slot name \"\(slot)\" (lower-case letters, digits and underscores, at most 63)")
    }
    let connection = try PostgresConnection(try ConnectionString(url), mode: .replication, applicationName: "outflow-bench")
    // The highest version the server speaks, as `outflow run` asks for; no streaming of
    // in-progress transactions, so every transaction arrives whole at its commit.
    let protocolVersion = connection.serverVersion >= 160000 ? 4 : 3
    let publicationName = try connection.quoteIdentifier(publication)
    let options = [
        "proto_version '\(protocolVersion)'",
        "publication_names \(try connection.quoteLiteral(publicationName))",
        "messages 'true'",
    ]
    let stream = try CopyBothStream(
        connection: connection, command: "START_REPLICATION SLOT \(slot) LOGICAL 0/0 (\(options.joined(separator: ", ")))")
    defer { stream.finish() }

    guard let file = fopen(path, "wb") else { fail("capture: cannot create \(path): \(String(cString: strerror(errno)))") }
    var closed = false
    defer { if !closed { fclose(file) } }
    func write(_ bytes: [UInt8]) {
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else {
            fail("capture: writing \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    var summary = CaptureSummary(protocolVersion: protocolVersion)
    // The WAL end last seen to move, and when.
    var progressMark = LSN.zero
    var lastProgress = ContinuousClock.now
    var lastStatus = ContinuousClock.now
    func sendStatus() throws {
        let nothing = StandbyStatusUpdate(
            written: .zero, flushed: .zero, applied: .zero,
            clock: PostgresTimestamp(unixMicroseconds: microsecondsSinceEpoch()))
        try stream.send(nothing.encode())
        lastStatus = .now
    }

    receiving: while true {
        if summary.lastWALEnd > progressMark {
            progressMark = summary.lastWALEnd
            lastProgress = .now
        } else if ContinuousClock.now - lastProgress >= captureStallLimit {
            fail("capture: the server's WAL end stayed at \(progressMark) for \(captureStallLimit), short of END_LSN \(end)")
        }
        if ContinuousClock.now - lastStatus >= captureStatusInterval { try sendStatus() }
        guard let bytes = try stream.receive(timeoutMilliseconds: 1000) else { continue }
        switch try ReplicationFrame.decode(from: bytes) {
        case .xLogData(let data):
            let length = UInt32(bytes.count)
            write([UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)])
            write(bytes)
            summary.frames += 1
            summary.frameBytes += bytes.count
            summary.lastWALEnd = max(summary.lastWALEnd, data.walEnd)
            if data.walEnd >= end { break receiving }
        case .primaryKeepalive(let keepalive):
            summary.lastWALEnd = max(summary.lastWALEnd, keepalive.walEnd)
            // Unanswered, the walsender ends the connection after wal_sender_timeout.
            if keepalive.replyRequested { try sendStatus() }
            if keepalive.walEnd >= end { break receiving }
        case .unknown:
            break  // a frame a newer server may add: not part of the pgoutput stream
        }
    }
    closed = true
    guard fclose(file) == 0 else { fail("capture: writing \(path) failed: \(String(cString: strerror(errno)))") }
    return summary
}
