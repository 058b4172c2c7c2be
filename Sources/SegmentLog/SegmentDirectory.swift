import BinaryIO
/// Read-only view of a partition directory's segment files, listed afresh on demand.
struct SegmentDirectory {
    let path: String

    func baseOffsets() throws(SegmentLogError) -> [Int64] {
        try FileIO.listDirectory(path).compactMap { SegmentFileName.baseOffset(of: $0, suffix: "log") }.sorted()
    }

    func files(_ base: Int64) -> SegmentFiles { SegmentFiles(directory: path, baseOffset: base) }

    /// Index files are advisory for a reader: missing or damaged ones mean "scan instead".
    func offsetIndex(_ base: Int64, logSize: Int64) -> [OffsetIndexEntry] {
        guard let bytes = try? FileIO.readFile(files(base).path(OffsetIndex.suffix)) else { return [] }
        let whole = Array(bytes.prefix(bytes.count - bytes.count % OffsetIndexEntry.size))
        return (try? OffsetIndex.decode(whole, logSize: logSize)) ?? []
    }

    func timeIndex(_ base: Int64) -> [TimeIndexEntry] {
        guard let bytes = try? FileIO.readFile(files(base).path(TimeIndex.suffix)) else { return [] }
        return (try? TimeIndex.decode(Array(bytes.prefix(bytes.count - bytes.count % TimeIndexEntry.size)))) ?? []
    }

    func lsnIndex(_ base: Int64) -> [LSNIndexEntry] {
        guard let bytes = try? FileIO.readFile(files(base).path(LSNIndex.suffix)) else { return [] }
        return (try? LSNIndex.decode(Array(bytes.prefix(bytes.count - bytes.count % LSNIndexEntry.size)))) ?? []
    }

    /// Aborted transactions recorded in a segment; an entry being written (a partial last
    /// entry) is left out until it is whole.
    func abortedTransactions(_ base: Int64) throws(SegmentLogError) -> [AbortedTransaction] {
        let path = files(base).path(TxnIndex.suffix)
        guard let bytes = try FileIO.readFile(path) else { return [] }
        do {
            return try TxnIndex.decode(Array(bytes.prefix(bytes.count - bytes.count % AbortedTransaction.size)))
        } catch {
            throw error.located(path: path, position: nil)
        }
    }

    /// Open transactions at the start of a segment (empty when there is no snapshot, as for
    /// a log another tool wrote).
    func producersAtStart(_ base: Int64) -> [Int64: ProducerEntry] {
        guard let bytes = try? FileIO.readFile(files(base).path(ProducerSnapshot.suffix)) else { return [:] }
        return (try? ProducerSnapshot.decode(bytes).producers) ?? [:]
    }
}
