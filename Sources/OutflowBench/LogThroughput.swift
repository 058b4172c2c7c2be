import Foundation
import SegmentLog

/// `log-bench`: writes synthetic CDC-like records through the real writer (group commits with
/// fsync) and reads them back read_committed, printing the throughput of each. `transactions`
/// log transactions (commits) of `records` records of `valueBytes` bytes each, spread over
/// `partitions` partitions of the topic `bench`, compressed with zstd at `level`.
func logThroughput(directory: String, transactions: Int, records: Int, valueBytes: Int, partitions: Int32, level: Int32) throws {
    var config = LogConfig()
    config.zstdLevel = level
    let writer = try LogWriter.open(directory: directory, config: config)
    let tps = try (0..<partitions).map { try TopicPartition(topic: "bench", partition: $0) }
    // Declared, as the pipeline does: `outflow serve` lists every partition from it.
    try writer.declareTopic("bench", partitionCount: partitions)
    var random = SystemRandomNumberGenerator()
    let words = ["insert", "update", "orders", "customer", "amount", "status", "shipped", "pending", "eur", "usd"]
    var lsn: UInt64 = 0x1_0000_0000
    var rawBytes = 0
    var writeSeconds = 0.0
    for transaction in 0..<transactions {
        try writer.beginTransaction()
        lsn += 4096
        var byPartition: [Int32: [Record]] = [:]
        for index in 0..<records {
            var value = "{\"id\":\(transaction * records + index),\"op\":\"\(words.randomElement(using: &random)!)\",\"data\":\""
            while value.utf8.count < valueBytes - 2 { value += words.randomElement(using: &random)! + " \(Int.random(in: 0..<100000, using: &random)) " }
            value += "\"}"
            let record = Record(
                key: Array("key-\(index % 1000)".utf8), value: Array(value.utf8),
                headers: [RecordHeader(key: SourcePosition.headerKey, text: SourcePosition.format(lsn))],
                timestamp: Int64(Date().timeIntervalSince1970 * 1000))
            rawBytes += value.utf8.count + 10
            byPartition[Int32(index) % partitions, default: []].append(record)
        }
        // Only the writer's time counts, not building the synthetic records.
        let start = Date()
        for (partition, batch) in byPartition { try writer.append(batch, to: tps[Int(partition)]) }
        try writer.commit(metadata: Array("lsn=\(SourcePosition.format(lsn))".utf8))
        writeSeconds += Date().timeIntervalSince(start)
    }
    writer.close()
    let total = transactions * records
    print(String(format: "write: %d records, %.1f MB raw, %d commits in %.2f s: %.1f MB/s, %.0f records/s, %.0f commits/s",
        total, Double(rawBytes) / 1e6, transactions, writeSeconds, Double(rawBytes) / 1e6 / writeSeconds,
        Double(total) / writeSeconds, Double(transactions) / writeSeconds))

    let readStart = Date()
    let log = try LogReader(directory: directory)
    var read = 0
    for tp in tps {
        let reader = try log.open(tp)
        while case let batch = try reader.poll(maxRecords: 5000), !batch.isEmpty { read += batch.count }
    }
    let readSeconds = Date().timeIntervalSince(readStart)
    print(String(format: "read (read_committed, decode + zstd): %d records in %.2f s: %.0f records/s", read, readSeconds, Double(read) / readSeconds))
}
