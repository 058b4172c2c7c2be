import BinaryIO
import PGOutput
import PostgresSource
import SegmentLog

/// The encoding of spool entries: big-endian integers and length-prefixed byte runs (the shared
/// `ByteReader`/writer), relations as pgoutput Relation messages (rare), changes in a compact
/// form of their own (one per row). A spool lives only as long as its transaction streams, so
/// the format can change freely between versions.
enum SpoolEntry {
    static let relationTag: UInt8 = 0x52  // R
    static let changeTag: UInt8 = 0x43  // C
    static let topicTag: UInt8 = 0x54  // T
    static let recordTag: UInt8 = 0x50  // P
    static let failureTag: UInt8 = 0x46  // F
    static let deadLetterFlag: UInt8 = 1
    static let envelopeFlag: UInt8 = 2
    /// The length of an absent key, value or header value.
    static let absent = UInt32.max
    static let noTupleMarker: UInt8 = 0
    static let newTupleMarker: UInt8 = 0x4E  // N
    static let keyMarker: UInt8 = 0x4B  // K
    static let oldRowMarker: UInt8 = 0x4F  // O

    /// What is wrong with an entry, for the spool's error message.
    struct Malformed: Error, ByteReadFailure {
        var what: String

        init(what: String) { self.what = what }

        init(_ error: ByteReadError) { what = "\(error.detail) (byte \(error.offset) of its entry)" }
    }

    typealias EntryReader = ByteReader<Malformed>

    static func encode(_ relation: PGOutputMessage.Relation, into buffer: inout [UInt8]) {
        buffer.append(relationTag)
        PGOutputMessage.relation(relation).encode(into: &buffer)
    }

    static func encode(_ change: SourceChange, into buffer: inout [UInt8]) {
        buffer.append(changeTag)
        buffer.appendInteger(change.xid)
        buffer.appendInteger(Int64(change.sequence))
        buffer.appendInteger(change.lsn.rawValue)
        buffer.append(operationCode(change.operation))
        buffer.appendInteger(change.relation.relationID)
        if let tuple = change.newTuple {
            buffer.append(newTupleMarker)
            encode(tuple, into: &buffer)
        } else {
            buffer.append(noTupleMarker)
        }
        switch change.oldTuple {
        case nil: buffer.append(noTupleMarker)
        case .key(let tuple)?:
            buffer.append(keyMarker)
            encode(tuple, into: &buffer)
        case .oldRow(let tuple)?:
            buffer.append(oldRowMarker)
            encode(tuple, into: &buffer)
        }
        buffer.appendInteger(UInt32(change.truncatedRelations.count))
        for relation in change.truncatedRelations { buffer.appendInteger(relation.relationID) }
        buffer.append(change.truncateOptions.rawValue)
    }

    static func encode(topic: String, number: UInt32, into buffer: inout [UInt8]) {
        buffer.append(topicTag)
        buffer.appendInteger(number)
        buffer.append(contentsOf: topic.utf8)
    }

    static func encode(_ record: PendingRecord, topic: UInt32, deadLetter: DeadLetterNote?, subtransaction: UInt32, into buffer: inout [UInt8]) {
        buffer.append(recordTag)
        buffer.appendInteger(subtransaction)
        buffer.append((deadLetter != nil ? deadLetterFlag : 0) | (record.envelope != nil ? envelopeFlag : 0))
        buffer.appendInteger(topic)
        buffer.appendInteger(record.topicPartition.partition)
        if let deadLetter {
            encode(text: deadLetter.stage, into: &buffer)
            encode(text: deadLetter.reason, into: &buffer)
        }
        guard let envelope = record.envelope else {
            // The record body so far, as it is: the rest of the entry.
            buffer.append(contentsOf: record.bodyPrefix)
            return
        }
        encode(optional: envelope.key, into: &buffer)
        encode(optional: envelope.valuePrefix, into: &buffer)
        buffer.appendInteger(UInt32(envelope.headers.count))
        for header in envelope.headers {
            encode(text: header.key, into: &buffer)
            encode(optional: header.value, into: &buffer)
        }
        buffer.append(operationCode(envelope.tail.operation))
        encode(text: envelope.tail.table.schema, into: &buffer)
        encode(text: envelope.tail.table.name, into: &buffer)
    }

    static func encode(_ failure: StagedFailure, subtransaction: UInt32, into buffer: inout [UInt8]) {
        buffer.append(failureTag)
        buffer.appendInteger(subtransaction)
        buffer.appendInteger(Int64(failure.sequence))
        encode(text: failure.stage, into: &buffer)
        encode(text: failure.reason, into: &buffer)
        encode(text: failure.table, into: &buffer)
    }

    private static func encode(optional bytes: [UInt8]?, into buffer: inout [UInt8]) {
        buffer.appendLengthPrefixed(bytes, lengthAs: UInt32.self, absent: absent)
    }

    private static func encode(text: String, into buffer: inout [UInt8]) {
        buffer.appendLengthPrefixed(text.utf8, lengthAs: UInt32.self)
    }

    private static func encode(_ tuple: TupleData, into buffer: inout [UInt8]) {
        buffer.appendInteger(UInt32(tuple.columns.count))
        for column in tuple.columns {
            switch column {
            case .null, .unchangedToast:
                buffer.append(column.kind.rawValue)
            case .text(let bytes), .binary(let bytes):
                buffer.append(column.kind.rawValue)
                buffer.appendLengthPrefixed(bytes, lengthAs: UInt32.self)
            }
        }
    }

    /// What the entries read so far declared, and the subtransactions to skip.
    struct ReadContext {
        var relations: [UInt32: PGOutputMessage.Relation] = [:]
        var topics: [UInt32: String] = [:]
        /// Partitions per topic and partition number, so each is validated once.
        var partitions: [UInt32: [Int32: TopicPartition]] = [:]
        let skipping: Set<UInt32>

        init(skipping: Set<UInt32>) { self.skipping = skipping }
    }

    /// The item in `entry`, or nil for a declaration (Relation, topic) or what a
    /// subtransaction in `context.skipping` left.
    static func decode(_ entry: [UInt8], context: inout ReadContext) throws(Malformed) -> SpooledItem? {
        var reader = EntryReader(entry)
        let aborted = context.skipping
        switch try reader.readByte() {
        case relationTag:
            let relation: PGOutputMessage.Relation
            do {
                guard case .relation(let decoded) = try PGOutputMessage.decode(from: entry[1...]) else {
                    throw Malformed(what: "a relation entry holds another message")
                }
                relation = decoded
            } catch let error as Malformed {
                throw error
            } catch {
                throw Malformed(what: "a relation entry does not decode: \(error)")
            }
            context.relations[relation.relationID] = relation
            return nil
        case topicTag:
            let number: UInt32 = try reader.readInteger()
            context.topics[number] = String(decoding: reader.readRest(), as: UTF8.self)
            return nil
        case recordTag:
            let subtransaction: UInt32 = try reader.readInteger()
            if aborted.contains(subtransaction) { return nil }
            let flags = try reader.readByte()
            let topicNumber: UInt32 = try reader.readInteger()
            let partition: Int32 = try reader.readInteger()
            let topicPartition: TopicPartition
            if let known = context.partitions[topicNumber]?[partition] {
                topicPartition = known
            } else {
                guard let topic = context.topics[topicNumber] else { throw Malformed(what: "a record names topic \(topicNumber), which no entry before it declares") }
                do { topicPartition = try TopicPartition(topic: topic, partition: partition) } catch {
                    throw Malformed(what: "a record's topic \"\(topic)\" / partition \(partition) is invalid: \(error)")
                }
                context.partitions[topicNumber, default: [:]][partition] = topicPartition
            }
            let deadLetter = flags & deadLetterFlag != 0 ? DeadLetterNote(stage: try text(&reader), reason: try text(&reader)) : nil
            guard flags & envelopeFlag != 0 else {
                let body = Array(reader.readRest())
                return .record(PendingRecord(topicPartition: topicPartition, bodyPrefix: body), deadLetter: deadLetter)
            }
            let key = try optional(&reader)
            let valuePrefix = try optional(&reader) ?? []
            let headerCount = Int(try reader.readInteger() as UInt32)
            try reader.requireRoom(forItems: headerCount, minimumBytes: 8, "header count")
            var headers: [RecordHeader] = []
            headers.reserveCapacity(headerCount)
            for _ in 0..<headerCount {
                let name = try text(&reader)
                headers.append(RecordHeader(key: name, value: try optional(&reader)))
            }
            let operation = try operation(try reader.readByte())
            let tail = DebeziumEnvelope.Tail(table: TableName(schema: try text(&reader), name: try text(&reader)), operation: operation)
            guard reader.isAtEnd else { throw Malformed(what: "a record entry has bytes left over") }
            return .record(
                PendingRecord(
                    topicPartition: topicPartition, bodyPrefix: [],
                    envelope: PendingEnvelope(key: key, valuePrefix: valuePrefix, headers: headers, tail: tail)),
                deadLetter: deadLetter)
        case failureTag:
            let subtransaction: UInt32 = try reader.readInteger()
            if aborted.contains(subtransaction) { return nil }
            let sequence = Int(try reader.readInteger() as Int64)
            let failure = StagedFailure(stage: try text(&reader), reason: try text(&reader), table: try text(&reader), sequence: sequence)
            guard reader.isAtEnd else { throw Malformed(what: "a failure entry has bytes left over") }
            return .failure(failure)
        case changeTag:
            let xid: UInt32 = try reader.readInteger()
            if aborted.contains(xid) { return nil }
            let sequence = Int(try reader.readInteger() as Int64)
            let lsn = LSN(try reader.readInteger() as UInt64)
            let operation = try operation(try reader.readByte())
            let relation = try relationFor(try reader.readInteger(), in: context.relations)
            let newTuple: TupleData?
            switch try reader.readByte() {
            case noTupleMarker: newTuple = nil
            case newTupleMarker: newTuple = try tuple(&reader)
            case let marker: throw Malformed(what: "new tuple marker \(marker)")
            }
            let oldTuple: PGOutputMessage.OldTuple?
            switch try reader.readByte() {
            case noTupleMarker: oldTuple = nil
            case keyMarker: oldTuple = .key(try tuple(&reader))
            case oldRowMarker: oldTuple = .oldRow(try tuple(&reader))
            case let marker: throw Malformed(what: "old tuple marker \(marker)")
            }
            let truncatedCount = Int(try reader.readInteger() as UInt32)
            try reader.requireRoom(forItems: truncatedCount, minimumBytes: 4, "truncated relation count")
            var truncated: [PGOutputMessage.Relation] = []
            truncated.reserveCapacity(truncatedCount)
            for _ in 0..<truncatedCount { truncated.append(try relationFor(try reader.readInteger(), in: context.relations)) }
            let options = PGOutputMessage.Truncate.Options(rawValue: try reader.readByte())
            guard reader.isAtEnd else { throw Malformed(what: "a change entry has bytes left over") }
            return .change(SourceChange(
                operation: operation, xid: xid, lsn: lsn, sequence: sequence, relation: relation, newTuple: newTuple, oldTuple: oldTuple,
                truncatedRelations: truncated, truncateOptions: options))
        case let tag:
            throw Malformed(what: "unknown entry tag \(tag)")
        }
    }

    private static func optional(_ reader: inout EntryReader) throws(Malformed) -> [UInt8]? {
        try reader.readLengthPrefixed("value", lengthAs: UInt32.self, absent: absent).map(Array.init)
    }

    private static func text(_ reader: inout EntryReader) throws(Malformed) -> String {
        String(decoding: try reader.readLengthPrefixed("text", lengthAs: UInt32.self), as: UTF8.self)
    }

    private static func tuple(_ reader: inout EntryReader) throws(Malformed) -> TupleData {
        let count = Int(try reader.readInteger() as UInt32)
        try reader.requireRoom(forItems: count, minimumBytes: 1, "column count")
        var columns: [TupleColumn] = []
        columns.reserveCapacity(count)
        for _ in 0..<count {
            switch try reader.readByte() {
            case TupleColumn.Kind.null.rawValue: columns.append(.null)
            case TupleColumn.Kind.unchangedToast.rawValue: columns.append(.unchangedToast)
            case TupleColumn.Kind.text.rawValue: columns.append(.text(try reader.readLengthPrefixed("text value", lengthAs: UInt32.self)))
            case TupleColumn.Kind.binary.rawValue: columns.append(.binary(try reader.readLengthPrefixed("binary value", lengthAs: UInt32.self)))
            case let kind: throw Malformed(what: "column kind \(kind)")
            }
        }
        return TupleData(columns)
    }

    private static func relationFor(_ id: UInt32, in relations: [UInt32: PGOutputMessage.Relation]) throws(Malformed) -> PGOutputMessage.Relation {
        guard let relation = relations[id] else { throw Malformed(what: "a change refers to relation \(id), which no entry before it describes") }
        return relation
    }

    private static func operationCode(_ operation: SourceChange.Operation) -> UInt8 {
        switch operation {
        case .insert: 0x49  // I
        case .update: 0x55  // U
        case .delete: 0x44  // D
        case .truncate: 0x54  // T
        }
    }

    private static func operation(_ code: UInt8) throws(Malformed) -> SourceChange.Operation {
        switch code {
        case 0x49: .insert
        case 0x55: .update
        case 0x44: .delete
        case 0x54: .truncate
        default: throw Malformed(what: "operation code \(code)")
        }
    }
}

extension [UInt8] {
    /// Starts a length-prefixed entry: returns where its length goes, for `endEntry`.
    mutating func beginEntry() -> Int {
        defer { appendInteger(UInt32(0)) }
        return count
    }

    mutating func endEntry(_ lengthAt: Int) {
        setInteger(UInt32(count - lengthAt - 4), at: lengthAt)
    }
}
