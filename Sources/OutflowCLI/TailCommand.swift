import ArgumentParser
import Foundation
import SegmentLog
import Synchronization

extension IsolationLevel: ExpressibleByArgument {}
extension TailFormat: ExpressibleByArgument {}

struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Prints records of a log's topics, like tail -f; read-committed by default.",
        discussion: """
            Without a starting point it prints the last -n records of each partition. With \
            --group it starts from the group's committed offsets and commits what it printed. \
            It exits at the end of the data, or with -f keeps following until interrupted.
            """)

    @Option(name: .customLong("log"), help: "The log directory.")
    var directory: String

    @Option(name: .customLong("topic"), help: "A topic, or a glob such as 'orders.*'; repeatable. Default: all but the internal ones (__*), which must be named.")
    var topics: [String] = []

    @Option(help: "Only this partition.")
    var partition: Int32?

    @Flag(help: "Start at the first stored record.")
    var fromBeginning = false

    @Option(help: "Start at this offset.")
    var fromOffset: Int64?

    @Option(help: "Start at the first record at or after this time (ISO 8601, or milliseconds since the epoch).")
    var fromTime: String?

    @Option(help: "Start at the first record whose source LSN (X/Y) is at or after this one.")
    var fromLsn: String?

    @Option(name: [.customShort("n"), .customLong("lines")], help: "Without a starting point: the last N records per partition.")
    var count = 10

    @Flag(name: [.short, .long], help: "Keep printing new records as they are committed.")
    var follow = false

    @Option(help: "read_committed or read_uncommitted.")
    var isolation: IsolationLevel = .readCommitted

    @Option(help: "json, value or pretty.")
    var format: TailFormat = .pretty

    @Option(help: "Consumer group: start from its committed offsets and commit what was printed.")
    var group: String?

    func validate() throws {
        let starts = [fromBeginning, fromOffset != nil, fromTime != nil, fromLsn != nil].filter { $0 }.count
        guard starts <= 1 else { throw ValidationError("Choose one of --from-beginning, --from-offset, --from-time, --from-lsn.") }
        guard count >= 0 else { throw ValidationError("-n must not be negative.") }
        if let fromLsn, SourcePosition.parse(fromLsn) == nil { throw ValidationError("--from-lsn wants X/Y in hexadecimal, such as 0/16B3748.") }
        if let fromTime, Self.parseTime(fromTime) == nil { throw ValidationError("--from-time wants ISO 8601 or milliseconds since the epoch.") }
    }

    static func parseTime(_ text: String) -> Int64? {
        if let milliseconds = Int64(text) { return milliseconds }
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        }
        return nil
    }

    func run() async throws {
        TailSignals.install()
        var output = StandardOutput()
        do {
            let session = try TailSession(command: self)
            try session.run(output: &output)
        } catch is BrokenPipe {
            return
        } catch let error as SegmentLogError {
            try? output.flush()
            var standardError = StandardError()
            print("outflow tail: \(error)", to: &standardError)
            throw ExitCode.failure
        }
    }
}

/// One `outflow tail` run: a `LogConsumer` configured from the command line, and the loop
/// that prints what it polls.
struct TailSession {
    let command: TailCommand
    let consumer: LogConsumer

    init(command: TailCommand) throws {
        self.command = command
        consumer = try LogConsumer(
            directory: command.directory, subscription: TopicSubscription(patterns: command.topics, partition: command.partition),
            isolation: command.isolation, group: command.group, start: command.startingPoint)
    }

    func run(output: inout StandardOutput) throws {
        while true {
            var printed = 0
            while !tailInterrupted.load(ordering: .relaxed) {
                let records = try consumer.poll()
                if records.isEmpty { break }
                for consumed in records { try output.write(TailFormatter.format(consumed.record, consumed.topicPartition, as: command.format)) }
                printed += records.count
            }
            try output.flush()
            if command.group != nil { try consumer.commitOffsets() }
            if !command.follow || tailInterrupted.load(ordering: .relaxed) { return }
            if printed == 0 {
                consumer.waitForData(timeout: .seconds(1))
                if tailInterrupted.load(ordering: .relaxed) { return }
                try consumer.refreshPartitions()
            }
        }
    }
}

extension TailCommand {
    /// An explicit --from-* wins over the group's committed offsets, for every partition; the
    /// default (the last -n records) applies only where the group has none.
    var startingPoint: StartingPoint {
        if fromBeginning { return StartingPoint(.beginning, preferCommittedOffsets: false) }
        if let fromOffset { return StartingPoint(.offset(fromOffset), preferCommittedOffsets: false) }
        if let time = fromTime.flatMap(Self.parseTime) { return StartingPoint(.timestamp(time), preferCommittedOffsets: false) }
        if let lsn = fromLsn.flatMap(SourcePosition.parse) { return StartingPoint(.sourceLSN(lsn), preferCommittedOffsets: false) }
        return StartingPoint(.lastRecords(count))
    }
}
