import ArgumentParser
import Foundation
import SegmentLog

struct LogRecompressCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recompress",
        abstract: "Recompresses the sealed segments of a stopped log at a higher zstd level.",
        discussion: """
            What `recompression_level` in sink.log does in the background, done now for a log no \
            pipeline is writing (it takes the writer's lock): every sealed segment not yet \
            recompressed at this level or higher is rewritten batch by batch and swapped in when \
            smaller. Offsets, batches, transaction markers and indexes stay valid; readers may \
            keep reading meanwhile. Nothing is deleted: retention is not applied.
            """)

    @Argument(help: "The log directory.")
    var directory: String

    @Option(help: "zstd level, 1 to 22.")
    var level: Int32 = 19

    func validate() throws {
        guard (1...22).contains(level) else { throw ValidationError("--level must be between 1 and 22") }
    }

    func run() async throws {
        var config = LogConfig()
        config.retentionMilliseconds = nil
        config.retentionBytes = nil
        config.recompression = RecompressionSettings(level: level, cpuShare: 1)
        let writer: LogWriter
        do {
            writer = try LogWriter.open(directory: directory, config: config)
        } catch {
            var standardError = StandardError()
            print("outflow log recompress: \(error)", to: &standardError)
            throw ExitCode.failure
        }
        guard let recompressor = writer.recompressor else { throw ExitCode.failure }
        while !recompressor.waitUntilIdle(timeout: .seconds(1)) {}
        let statistics = recompressor.statistics
        writer.closeCleanly()
        print(
            "\(statistics.segmentsRecompressed) segments recompressed (\(statistics.originalBytes) → \(statistics.storedBytes) bytes), "
                + "\(statistics.segmentsKept) kept, \(statistics.failures) failed")
        if statistics.failures > 0 { throw ExitCode.failure }
    }
}
