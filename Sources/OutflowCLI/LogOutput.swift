import ArgumentParser
import Foundation
import Logging
import Pipeline

/// How long-running commands log: the level, and text or one JSON object a line (for log
/// collectors). Either way on standard error, with the pipeline file's secrets redacted from the
/// message and every metadata value.
struct LogOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error or critical (default: warning; info for serve).", valueName: "level"))
    var logLevel: Logger.Level?
    @Option(help: ArgumentHelp("Log lines as text or as one JSON object each.", valueName: "text|json"))
    var logFormat: Format = .text

    /// Sets up the process's logging once; later loggers (`Logger(label:)`) write through it.
    func bootstrap(secrets: SecretValues, defaultLevel: Logger.Level = .warning) {
        let (level, format) = (logLevel ?? defaultLevel, logFormat)
        LoggingSystem.bootstrap { label in RedactingLogHandler(label: label, level: level, format: format, secrets: secrets) }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct RedactingLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    let format: LogOptions.Format
    let secrets: SecretValues
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level, format: LogOptions.Format, secrets: SecretValues) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.secrets = secrets
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { ($0.key, secrets.redact("\($0.value)")) }
        let time = ISO8601DateFormatter.logTimestamp.string(from: Date())
        let message = secrets.redact("\(event.message)")
        let line: String
        switch format {
        case .text:
            let metadataText = fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            line = "\(time) \(event.level) \(label): \(metadataText.isEmpty ? "" : metadataText + " ")\(message)\n"
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "logger": label, "message": message]
            for (key, value) in fields where object[key] == nil { object[key] = value }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            line = ((try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"message":"unencodable log line"}"#) + "\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let logTimestamp: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
