import PGOutput
import PostgresSource
import SegmentLog

/// How decoded source changes are kept in the changelog topic, so that stages can run over
/// them again (replay) after the slot has moved past them.
///
/// A change is stored as the pgoutput message it arrived as (Insert, Update, Delete,
/// Truncate — without the stream xid), with the Relation messages it needs in headers and its
/// origin (commit LSN, xid, commit time, position) in headers too: the format Postgres itself
/// defined, decoded by the same decoder on the way back.
public enum ChangelogCodec {
    public static let topic = "__changelog"

    enum Header {
        static let lsn = SourcePosition.headerKey
        static let xid = "outflow.xid"
        static let sequence = "outflow.seq"
        static let commitTime = "outflow.commit_us"
        static let changeLSN = "outflow.change_lsn"
        static let relation = "outflow.relation"
    }

    public static func record(for change: SourceChange, origin: EventOrigin) -> Record {
        let message: PGOutputMessage = switch change.operation {
        case .insert: .insert(.init(relationID: change.relation.relationID, newTuple: change.newTuple ?? TupleData([])))
        case .update: .update(.init(relationID: change.relation.relationID, old: change.oldTuple, newTuple: change.newTuple ?? TupleData([])))
        case .delete: .delete(.init(relationID: change.relation.relationID, old: change.oldTuple ?? .key(TupleData([]))))
        case .truncate: .truncate(.init(options: change.truncateOptions, relationIDs: change.truncatedRelations.map(\.relationID)))
        }
        var headers = [
            RecordHeader(key: Header.lsn, text: origin.commitLSN.description),
            RecordHeader(key: Header.xid, text: String(origin.xid)),
            RecordHeader(key: Header.sequence, text: String(origin.sequence)),
            RecordHeader(key: Header.commitTime, text: String(origin.commitTime.unixMicroseconds)),
            RecordHeader(key: Header.changeLSN, text: change.lsn.description),
        ]
        let relations = change.operation == .truncate ? change.truncatedRelations : [change.relation]
        for relation in relations {
            var withoutXID = relation
            withoutXID.xid = nil
            headers.append(RecordHeader(key: Header.relation, value: PGOutputMessage.relation(withoutXID).encode()))
        }
        return Record(
            key: Array(change.table.description.utf8), value: message.encode(), headers: headers,
            timestamp: origin.commitTime.unixMicroseconds / 1000)
    }

    public struct DecodingError: Error, CustomStringConvertible, Sendable {
        public var offset: Int64
        public var message: String
        public var description: String { "changelog record at offset \(offset): \(message)" }
    }

    /// The change and its origin back from a stored changelog record.
    public static func change(from stored: StoredRecord) throws(DecodingError) -> (origin: EventOrigin, change: SourceChange) {
        func fail(_ message: String) -> DecodingError { DecodingError(offset: stored.offset, message: message) }
        func text(_ key: String) throws(DecodingError) -> String {
            guard let bytes = stored.record.header(key) else { throw fail("no \(key) header") }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard let commitLSN = LSN(try text(Header.lsn)), let xid = UInt32(try text(Header.xid)),
            let sequence = Int(try text(Header.sequence)), let commitMicros = Int64(try text(Header.commitTime)),
            let changeLSN = LSN(try text(Header.changeLSN))
        else { throw fail("malformed origin headers") }
        var assembler = TransactionAssembler()
        do {
            for header in stored.headers where header.key == Header.relation {
                _ = try assembler.apply(try PGOutputMessage.decode(from: ArraySlice(header.value ?? [])), at: .zero)
            }
            guard let value = stored.value else { throw fail("no value") }
            _ = try assembler.apply(.begin(.init(finalLSN: commitLSN, commitTimestamp: PostgresTimestamp(unixMicroseconds: commitMicros), xid: xid)), at: changeLSN)
            guard case .change(var change)? = try assembler.apply(try PGOutputMessage.decode(from: ArraySlice(value)), at: changeLSN) else {
                throw fail("the value is not a row change")
            }
            change.sequence = sequence
            let origin = EventOrigin(
                commitLSN: commitLSN, xid: xid, commitTime: PostgresTimestamp(unixMicroseconds: commitMicros), table: change.table,
                operation: change.operation, sequence: sequence)
            return (origin, change)
        } catch let error as DecodingError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }
}
