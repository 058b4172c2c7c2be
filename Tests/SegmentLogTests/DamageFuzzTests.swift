import Foundation
import Testing
@testable import SegmentLog

/// Random damage to every kind of file in a log directory: readers, the verifier and the
/// writer's recovery may refuse with a `SegmentLogError`, but never trap, hang or throw
/// anything else.
@Suite struct DamageFuzzTests {
    @Test func randomDamageOnlyEverProducesTypedErrors() throws {
        let seed = ProcessInfo.processInfo.environment["OUTFLOW_PROPERTY_SEED"].flatMap { UInt64($0) }
            ?? UInt64(Date().timeIntervalSince1970 * 1000)
        print("DamageFuzzTests seed \(seed) (replay with OUTFLOW_PROPERTY_SEED=\(seed))")
        var random = SeededGenerator(seed: seed)
        let pristine = try TemporaryDirectory()
        defer { pristine.remove() }
        let tp = try TopicPartition(topic: "orders", partition: 0)
        var config = LogConfig()
        config.segmentBytes = 1500
        config.indexIntervalBytes = 120
        let writer = try LogWriter.open(directory: pristine.path, config: config)
        for index in 0..<40 {
            try writer.beginTransaction()
            try writer.append([record("v\(index)", lsn: UInt64(500 + index), timestamp: 9000 + Int64(index))], to: tp)
            if index % 6 == 5 { try writer.abort() } else { try writer.commit(metadata: [UInt8(index)]) }
        }
        writer.close()
        let pristineView = try readAll(pristine.path, tp)
        let files = try FileManager.default.subpathsOfDirectory(atPath: pristine.path)
            .filter { !$0.hasSuffix(".lock") }
            .filter { path in
                var isDirectory: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: pristine.path + "/" + path, isDirectory: &isDirectory)
                return exists && !isDirectory.boolValue
            }
        var outcomes: [String: Int] = [:]
        for _ in 0..<25 {
            let copy = try TemporaryDirectory()
            defer { copy.remove() }
            for name in try FileManager.default.contentsOfDirectory(atPath: pristine.path) {
                try FileManager.default.copyItem(atPath: pristine.path + "/" + name, toPath: copy.path + "/" + name)
            }
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let path = copy.path + "/" + files.randomElement(using: &random)!
                var data = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
                switch Int.random(in: 0..<4, using: &random) {
                case 0 where !data.isEmpty:
                    for _ in 0..<Int.random(in: 1...4, using: &random) {
                        data[Int.random(in: 0..<data.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                    }
                case 1:
                    data = Array(data.prefix(Int.random(in: 0...data.count, using: &random)))
                case 2:
                    data += (0..<Int.random(in: 1...100, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                default:
                    data = []
                }
                try Data(data).write(to: URL(fileURLWithPath: path))
            }
            let outcome = try exercise(copy.path, tp)
            outcomes[outcome, default: 0] += 1
            if outcome == "clean" {
                // Undetected damage may only have cost a torn-looking tail, never a record in
                // the middle, an aborted record, or a changed one.
                let view = try readAll(copy.path, tp)
                #expect(view == Array(pristineView.prefix(view.count)), "seed \(seed): damage went unnoticed")
            }
        }
        print("DamageFuzzTests outcomes: \(outcomes)")
        #expect(outcomes.values.reduce(0, +) == 25)
    }

    /// Runs everything that reads the directory; returns a summary of what happened.
    private func exercise(_ path: String, _ tp: TopicPartition) throws -> String {
        var errors: [String] = []
        func attempt(_ label: String, _ body: () throws -> Void) {
            do { try body() } catch let error as SegmentLogError {
                errors.append("\(label):\(error.code)")
            } catch {
                Issue.record("\(label) threw a non-SegmentLog error: \(error)")
            }
        }
        attempt("verify") { _ = try LogVerifier.verify(directory: path) }
        for isolation in IsolationLevel.allCases {
            attempt("read-\(isolation.rawValue)") {
                let reader = try LogReader(directory: path).open(tp, isolation: isolation)
                var polls = 0
                while try !reader.poll().isEmpty {
                    polls += 1
                    if polls > 1000 { Issue.record("reader does not terminate"); return }
                }
                try reader.seek(toTimestamp: 9020)
                _ = try reader.poll()
                try reader.seek(toLSN: 515)
                _ = try reader.poll()
            }
        }
        attempt("open") {
            let writer = try LogWriter.open(directory: path)
            writer.close()
            let reader = try LogReader(directory: path).open(tp)
            while try !reader.poll().isEmpty {}
        }
        return errors.isEmpty ? "clean" : errors.sorted().joined(separator: ",")
    }
}
