import ArgumentParser
import Foundation
import SegmentLog

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspects, verifies and recompresses a log directory.",
        subcommands: [LogVerifyCommand.self, LogInspectCommand.self, LogRecompressCommand.self]
    )
}

struct LogVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Checks every segment, index and transaction of a log directory.",
        discussion: """
            Reads the log without changing it: every batch (CRC, offsets, records), every index \
            entry against the batch it points at, every aborted-transaction entry against its \
            ABORT marker, and every commit record of __transactions. Exits 1 when it finds an \
            error (or, with --strict, a warning such as a torn tail the next writer would repair).
            """)

    @Argument(help: "The log directory.")
    var directory: String

    @Flag(help: "Fail on warnings too.")
    var strict = false

    func run() async throws {
        let report: VerificationReport
        var line = ProgressLine()
        defer { line.finish() }
        do {
            report = try LogVerifier.verify(directory: directory) { progress in
                guard progress.bytes > 0 else { return }
                line.update(
                    "verify: \(progress.bytesDone * 100 / progress.bytes)% (\(progress.bytesDone) of \(progress.bytes) segment bytes), "
                        + "partition \(min(progress.partitionsDone + 1, progress.partitions)) of \(progress.partitions)\(progress.current.isEmpty ? "" : " (\(progress.current))")")
            }
            line.finish()
        } catch {
            line.finish()
            var standardError = StandardError()
            print("outflow log verify: \(error)", to: &standardError)
            throw ExitCode.failure
        }
        for finding in report.findings { print(finding) }
        print(
            "\(report.partitions) partitions, \(report.segments) segments, \(report.batches) batches, "
                + "\(report.records) records, \(report.commits) COMMIT and \(report.aborts) ABORT markers, "
                + "\(report.commitRecords) commit records: "
                + "\(report.errors.count) errors, \(report.findings.count - report.errors.count) warnings")
        if !report.isHealthy || (strict && !report.findings.isEmpty) { throw ExitCode.failure }
    }
}

struct LogInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Prints the batches of a segment file, like Kafka's DumpLogSegments.")

    @Argument(help: "A segment file (…/<topic>-<partition>/<base offset>.log).")
    var segment: String

    @Flag(name: [.long, .customLong("print-data-log")], help: "Print every record too.")
    var records = false

    func run() async throws {
        print("Dumping \(segment)")
        var lines = 0
        let damage: SegmentInspector.Damage?
        do {
            damage = try SegmentInspector.inspect(segment: segment, withRecords: records) { batch in
                var line = batch.header.dumpDescription(position: batch.position, crcValid: batch.crcValid)
                if let marker = batch.marker {
                    line += " | endTxnMarker: \(marker.type.map(String.init(describing:)) ?? "UNKNOWN(\(marker.rawType))") coordinatorEpoch: \(marker.coordinatorEpoch)"
                }
                if let error = batch.recordError { line += " | error: \(error.message)" }
                print(line)
                lines += 1
                guard records, !batch.header.isControl, let stored = batch.records else { return }
                for record in stored {
                    let headers = record.headers.map { "\($0.key)=\(Self.printable($0.value))" }.joined(separator: ",")
                    print("| offset: \(record.offset) CreateTime: \(record.timestamp) keySize: \(record.key?.count ?? -1) "
                        + "valueSize: \(record.value?.count ?? -1) headers: [\(headers)] key: \(Self.printable(record.key)) "
                        + "payload: \(Self.printable(record.value))")
                }
            }
        } catch {
            var standardError = StandardError()
            print("outflow log inspect: \(error)", to: &standardError)
            throw ExitCode.failure
        }
        if let damage {
            var standardError = StandardError()
            let kind = damage.atTail ? "torn tail" : "corruption"
            print("\(kind) at byte \(damage.position): \(damage.error.message)", to: &standardError)
            throw ExitCode.failure
        }
        if lines == 0 { print("(empty segment)") }
    }

    static func printable(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "null" }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return "0x" + bytes.map { String(format: "%02x", $0) }.joined()
    }
}
