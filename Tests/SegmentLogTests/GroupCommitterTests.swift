import Foundation
import Testing
@testable import SegmentLog

@Suite struct GroupCommitterTests {
    @Test func concurrentSubmitsAreAllCommittedAndEachResultCoversItsRecords() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tps = try [TopicPartition(topic: "orders", partition: 0), TopicPartition(topic: "orders", partition: 1)]
        let committer = GroupCommitter(writer: try LogWriter.open(directory: dir.path))
        let submits = 60
        let results = try await withThrowingTaskGroup(of: (Int, CommitResult).self) { group in
            for index in 0..<submits {
                group.addTask {
                    let tp = tps[index % 2]
                    let result = try await committer.submit([(tp, [record("s\(index)")])], metadata: Array("m\(index)".utf8))
                    return (index, result)
                }
            }
            var results: [Int: CommitResult] = [:]
            for try await (index, result) in group { results[index] = result }
            return results
        }
        let commits = await committer.commits
        print("GroupCommitter: \(submits) submits in \(commits) commits")
        #expect(commits >= 1 && commits <= submits)
        #expect(Set(results.values.map(\.transactionId)).count == commits)
        // Every submit's record is readable, inside the offsets its commit reported.
        for tp in tps {
            let reader = try LogReader(directory: dir.path).open(tp)
            var stored: [StoredRecord] = []
            while case let batch = try reader.poll(), !batch.isEmpty { stored += batch }
            #expect(stored.count == submits / 2)
            for record in stored {
                let index = Int(text(record.value)!.dropFirst())!
                let range = try #require(results[index]?.ranges.first { $0.topicPartition == tp })
                #expect((range.firstOffset...range.lastOffset).contains(record.offset))
            }
        }
        // The newest commit carries the metadata of the last submit appended to it.
        let last = try #require(try LogReader(directory: dir.path).lastCommit())
        #expect(last.transactionId == Int64(commits))
        await committer.close()
    }

    @Test func aFencedWriterFailsItsSubmitsWithTheCause() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tp = try TopicPartition(topic: "orders", partition: 0)
        let committer = GroupCommitter(writer: try LogWriter.open(directory: dir.path))
        _ = try await committer.submit([(tp, [record("before")])], metadata: [1])
        let newer = try LogWriter.open(directory: dir.path)
        await #expect { try await committer.submit([(tp, [record("after")])], metadata: [2]) } throws: {
            ($0 as? SegmentLogError)?.code == .producerFenced
        }
        #expect(try readAll(dir.path, tp) == ["before"])
        #expect(newer.lastCommittedMetadata == [1])
        newer.close()
        await committer.close()
    }
}
