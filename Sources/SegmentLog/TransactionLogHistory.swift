import BinaryIO
extension TransactionLog {
    /// Every retained commit record with a timestamp at or after `since` (ms), oldest first.
    /// A damaged record before valid ones is an error; a torn tail ends the history.
    static func commitRecords(in path: String, since: Int64, limits: DecodeLimits) throws(SegmentLogError) -> [CommitRecord] {
        guard FileIO.exists(path) else { return [] }
        let directory = SegmentDirectory(path: path)
        var records: [CommitRecord] = []
        for base in try directory.baseOffsets() {
            let file = try FileHandleBox.readOnly(directory.files(base).log)
            var scanner = BatchScanner(file: file, from: 0, fileSize: try file.size(), limits: limits)
            scan: while true {
                switch try scanner.next() {
                case .batch(let found):
                    guard found.batch.header.maxTimestamp >= since else { continue }
                    for stored in try found.batch.records(limits: limits) {
                        guard let value = stored.value else {
                            throw SegmentLogError(.corruptTransactionLog, "commit record without a value", path: file.path)
                        }
                        let record: CommitRecord
                        do { record = try CommitRecord.decode(value) } catch { throw error.located(path: file.path, position: nil) }
                        if record.timestamp >= since { records.append(record) }
                    }
                case .end, .incomplete:
                    break scan
                case .damaged(let position, let length, let error):
                    if try scanner.validBatchFollows(damageAt: position, length: length) {
                        throw SegmentLogError(.corruptTransactionLog, error.message, path: file.path, position: position)
                    }
                    break scan
                }
            }
        }
        return records
    }
}

extension LogReader {
    /// The commit records still retained whose commit time is at or after `since`
    /// (milliseconds since the Unix epoch), oldest first: a pipeline rebuilds the state of its
    /// stateful stages from their metadata.
    public func commitHistory(since: Int64 = .min) throws(SegmentLogError) -> [CommitRecord] {
        try TransactionLog.commitRecords(in: directory + "/" + TransactionLog.directoryName, since: since, limits: limits)
    }
}
