import ArgumentParser
import Foundation
import SegmentLog
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
        var session: TailSession
        do {
            session = try TailSession(command: self)
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

/// The state of one `outflow tail` run: a reader per selected partition.
struct TailSession {
    let command: TailCommand
    let log: LogReader
    let groups: ConsumerGroups
    var readers: [TopicPartition: PartitionReader] = [:]
    let watcher = TailWatcher()
    /// After the first look, partitions that appear are new: everything in them is printed.
    var startedFollowing = false

    init(command: TailCommand) throws {
        self.command = command
        log = try LogReader(directory: command.directory)
        groups = ConsumerGroups(logDirectory: command.directory)
    }

    func selected(_ tp: TopicPartition) -> Bool {
        if let partition = command.partition, tp.partition != partition { return false }
        // Internal topics (__changelog) only when a pattern names them explicitly, as Kafka's
        // consumers exclude internal topics from wildcard subscriptions.
        if tp.topic.hasPrefix("__") { return command.topics.contains { $0.hasPrefix("__") && fnmatch($0, tp.topic, 0) == 0 } }
        return command.topics.isEmpty || command.topics.contains { fnmatch($0, tp.topic, 0) == 0 }
    }

    /// Opens readers for partitions that appeared since the last look, positioned at the start.
    mutating func discover() throws -> [TopicPartition] {
        watcher.watch(command.directory)
        var added: [TopicPartition] = []
        let committed = try command.group.map { try groups.committedOffsets(group: $0) } ?? [:]
        for tp in try log.partitions() where readers[tp] == nil && selected(tp) {
            let reader = try log.open(tp, isolation: command.isolation)
            watcher.watch(command.directory + "/" + tp.directoryName)
            if command.fromBeginning {
                try reader.seekToBeginning()
            } else if let offset = command.fromOffset {
                try reader.seek(toOffset: offset)
            } else if let time = command.fromTime.flatMap(TailCommand.parseTime) {
                try reader.seek(toTimestamp: time)
            } else if let lsn = command.fromLsn.flatMap(SourcePosition.parse) {
                try reader.seek(toLSN: lsn)
            } else if let offset = committed[tp] {
                try reader.seek(toOffset: offset)
            } else if startedFollowing {
                // A partition created while following: everything in it is new.
                try reader.seekToBeginning()
            } else {
                try seekToLast(command.count, reader)
            }
            readers[tp] = reader
            added.append(tp)
        }
        startedFollowing = true
        return added
    }

    /// Positions so that about the last `count` visible records remain: markers and aborted
    /// records take offsets too, so the window doubles until it holds enough.
    func seekToLast(_ count: Int, _ reader: PartitionReader) throws {
        try reader.seekToEnd()
        let end = reader.position
        let start = try reader.logStartOffset()
        guard count > 0 else { return }
        var window = Int64(count)
        while true {
            let from = max(start, end - window)
            try reader.seek(toOffset: from)
            var offsets: [Int64] = []
            while reader.position < end, case let batch = try reader.poll(), !batch.isEmpty {
                offsets += batch.map(\.offset).filter { $0 < end }
            }
            if offsets.count >= count || from == start {
                try reader.seek(toOffset: offsets.count > count ? offsets[offsets.count - count] : from)
                return
            }
            window *= 2
        }
    }

    mutating func run(output: inout StandardOutput) throws {
        _ = try discover()
        while true {
            var printed = 0
            for tp in readers.keys.sorted() {
                let reader = readers[tp]!
                while !tailInterrupted.load(ordering: .relaxed) {
                    let records = try reader.poll()
                    if records.isEmpty { break }
                    for record in records { try output.write(TailFormatter.format(record, tp, as: command.format)) }
                    printed += records.count
                }
            }
            try output.flush()
            try commitGroup()
            if !command.follow || tailInterrupted.load(ordering: .relaxed) { return }
            if printed == 0 {
                watcher.wait(timeout: 1000)
                if tailInterrupted.load(ordering: .relaxed) { return }
                _ = try discover()
            }
        }
    }

    func commitGroup() throws {
        guard let group = command.group else { return }
        try groups.commit(group: group, offsets: readers.mapValues(\.position))
    }
}
