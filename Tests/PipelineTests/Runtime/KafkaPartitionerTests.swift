import Foundation
import Pipeline
import Testing

@Suite struct KafkaPartitionerTests {
    /// Values from Apache Kafka's own tests of Utils.murmur2.
    @Test(arguments: [
        ("21", Int32(-973_932_308)), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107), ("1", -1_993_445_489), ("12", 126_087_238), ("123", -267_702_483),
    ])
    func murmur2MatchesKafka(key: String, expected: Int32) {
        #expect(KafkaPartitioner.murmur2(Array(key.utf8)) == expected)
    }

    /// kafka-python's DefaultPartitioner, an independent implementation, picks the same
    /// partitions for random keys of every length.
    @Test func partitionsMatchAnIndependentProducer() throws {
        guard let python = ProcessInfo.processInfo.environment["OUTFLOW_ORACLE_PYTHON"], !python.isEmpty else {
            throw OracleMissing()
        }
        var generator = SystemRandomNumberGenerator()
        let keys: [[UInt8]] = (0..<300).map { index in (0..<(index % 40)).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let counts = [1, 3, 7, 12]
        let script = """
            import sys, binascii
            from kafka.partitioner.default import murmur2
            for line in sys.stdin:
                key = binascii.unhexlify(line.strip())
                h = murmur2(key) & 0x7fffffff
                print(",".join(str(h % n) for n in [\(counts.map(String.init).joined(separator: ","))]))
            """
        let input = keys.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n") + "\n"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = output.split(separator: "\n")
        #expect(lines.count == keys.count)
        for (key, line) in zip(keys, lines) {
            let ours = counts.map { String(KafkaPartitioner.partition(forKey: key, partitionCount: $0)) }.joined(separator: ",")
            #expect(ours == String(line), "key \(key)")
        }
    }
}

struct OracleMissing: Error, CustomStringConvertible {
    var description: String {
        "OUTFLOW_ORACLE_PYTHON is not set: this test needs the venv with kafka-python that `make test` creates"
    }
}
