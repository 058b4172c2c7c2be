import Foundation
import Pipeline
import SegmentLog

#if canImport(Glibc)
import Glibc
#endif

/// How `outflow tail` prints a record.
enum TailFormat: String, CaseIterable {
    /// One JSON object per line: topic, partition, offset, timestamp, key, value, headers, lsn.
    case json
    /// The value alone, one per line.
    case value
    /// A human-readable line.
    case pretty
}

/// The reader closed the pipe (`outflow tail | head`): time to stop, quietly.
struct BrokenPipe: Error {}

/// Buffered standard output written with write(2), so EPIPE is an error we see and not a
/// signal that kills the process.
struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func write(_ line: String) throws {
        buffer.append(contentsOf: line.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { try flush() }
    }

    mutating func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
            if n >= 0 { done += n; continue }
            if errno == EINTR { continue }
            if errno == EPIPE { throw BrokenPipe() }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

enum TailFormatter {
    static func format(_ record: StoredRecord, _ tp: TopicPartition, as format: TailFormat) -> String {
        switch format {
        case .value:
            return record.value.map { text($0) ?? "0x" + hex($0) } ?? "null"
        case .pretty:
            let lsn = record.record.sourceLSN.map { " lsn=\(SourcePosition.format($0))" } ?? ""
            let key = record.key.map { " key=" + (text($0) ?? "0x" + hex($0)) } ?? ""
            let headers = record.headers.filter { $0.key != SourcePosition.headerKey }
                .map { "\($0.key)=\($0.value.map { text($0) ?? "0x" + hex($0) } ?? "null")" }
            let headerText = headers.isEmpty ? "" : " headers={" + headers.joined(separator: ", ") + "}"
            let value = record.value.map { text($0) ?? "0x" + hex($0) } ?? "null"
            return "\(tp)@\(record.offset) \(isoTime(record.timestamp))\(lsn)\(key)\(headerText) \(value)"
        case .json:
            var fields = [
                "\"topic\":" + jsonString(tp.topic), "\"partition\":\(tp.partition)", "\"offset\":\(record.offset)",
                "\"timestamp\":\(record.timestamp)",
            ]
            fields.append("\"key\":" + jsonText(record.key))
            fields.append("\"value\":" + jsonValue(record.value))
            let headers = record.headers.map { jsonString($0.key) + ":" + jsonText($0.value) }
            fields.append("\"headers\":{" + headers.joined(separator: ",") + "}")
            fields.append("\"lsn\":" + (record.record.sourceLSN.map { jsonString(SourcePosition.format($0)) } ?? "null"))
            return "{" + fields.joined(separator: ",") + "}"
        }
    }

    /// A value that is itself JSON goes inline (compacted onto one line); anything else is a string.
    static func jsonValue(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "null" }
        // The project's exact parser: numbers are never rounded through a Double.
        if let value = try? JSONValueParser.parse(bytes) {
            if !bytes.contains(UInt8(ascii: "\n")) && !bytes.contains(UInt8(ascii: "\r")), let raw = text(bytes) {
                return raw.trimmingCharacters(in: .whitespaces)  // as the application wrote it
            }
            return value.jsonText
        }
        return jsonText(bytes)
    }

    /// UTF-8 bytes as a JSON string; other bytes as {"base64": "..."}.
    static func jsonText(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "null" }
        if let string = text(bytes) { return jsonString(string) }
        return "{\"base64\":\"" + Data(bytes).base64EncodedString() + "\"}"
    }

    static func jsonString(_ string: String) -> String { EventValue.string(string).jsonText }

    static func text(_ bytes: [UInt8]) -> String? { String(validating: bytes, as: UTF8.self) }
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func isoTime(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
