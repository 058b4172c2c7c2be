import BinaryIO
/// One batch of a segment as `outflow log inspect` prints it.
public struct InspectedBatch: Sendable {
    public var position: Int64
    public var header: BatchHeader
    public var crcValid: Bool
    public var marker: ControlMarker?
    /// The records of a data batch (of a control batch too when asked for), if decodable;
    /// `recordError` otherwise.
    public var records: [StoredRecord]?
    public var recordError: SegmentLogError?
}

/// Reads a segment file batch by batch, reporting damage instead of stopping at it when the
/// length still allows stepping over it.
public enum SegmentInspector {
    public struct Damage: Sendable {
        public var position: Int64
        public var error: SegmentLogError
        /// True when nothing follows that could be a batch (a torn tail).
        public var atTail: Bool
    }

    public static func inspect(
        segment path: String, withRecords: Bool, limits: DecodeLimits = .default,
        _ visit: (InspectedBatch) throws -> Void
    ) throws -> Damage? {
        let file = try FileHandleBox.readOnly(path)
        let size = try file.size()
        var scanner = BatchScanner(file: file, from: 0, fileSize: size, limits: limits)
        while true {
            switch try scanner.next() {
            case .end:
                return nil
            case .incomplete(let position):
                return Damage(position: position, error: SegmentLogError(.truncated, "incomplete batch at the end of the file (\(size - position) bytes)"), atTail: true)
            case .damaged(let position, let length, let error):
                let followed = try scanner.validBatchFollows(damageAt: position, length: length)
                // A CRC failure still has a readable header: show it, flagged, before stopping.
                if error.code == .crcMismatch, let length {
                    let bytes = try file.read(count: Int(length), at: position)
                    if let header = try? BatchHeader.parse(bytes) {
                        try visit(InspectedBatch(position: position, header: header, crcValid: false, marker: nil, records: nil, recordError: error))
                    }
                }
                return Damage(position: position, error: error.located(path: path, position: position), atTail: !followed)
            case .batch(let found):
                var inspected = InspectedBatch(position: found.position, header: found.header, crcValid: true, marker: nil, records: nil, recordError: nil)
                do {
                    inspected.marker = try found.batch.controlMarker()
                    // Data batches are always decoded: that checks every record.
                    if withRecords || !found.header.isControl {
                        inspected.records = try found.batch.records(limits: limits)
                    }
                } catch {
                    inspected.recordError = error
                }
                try visit(inspected)
            }
        }
    }
}

extension BatchHeader {
    /// The batch in the shape of Kafka's DumpLogSegments output.
    public func dumpDescription(position: Int64, crcValid: Bool) -> String {
        "baseOffset: \(baseOffset) lastOffset: \(lastOffset) count: \(recordsCount) baseSequence: \(baseSequence) "
            + "lastSequence: \(lastSequence) producerId: \(producerId) producerEpoch: \(producerEpoch) "
            + "partitionLeaderEpoch: \(partitionLeaderEpoch) isTransactional: \(isTransactional) isControl: \(isControl) "
            + "position: \(position) \(attributes & 0x08 != 0 ? "LogAppendTime" : "CreateTime"): \(maxTimestamp) "
            + "size: \(sizeInBytes) magic: \(magic) compresscodec: \(compression.map(String.init(describing:)) ?? "unknown(\(compressionCode))") "
            + "crc: \(crc) isvalid: \(crcValid)"
    }
}
