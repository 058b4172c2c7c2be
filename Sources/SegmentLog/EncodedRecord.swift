import BinaryIO
/// A record whose key, value and headers are already in the record format: what a caller
/// that makes many records builds once, instead of a `Record` the batch encoder would walk
/// field by field. The batch adds the rest of the framing (length, attributes, timestamp and
/// offset deltas), which depends on the record's place in its batch.
public struct EncodedRecord: Hashable, Sendable {
    /// Milliseconds since the Unix epoch (CreateTime).
    public var timestamp: Int64
    /// Key, value, header count and headers as in Kafka's record: each field a zigzag varint
    /// length (-1: null) and its bytes.
    public var body: [UInt8]
    /// Bytes that follow `body` in the record: its last headers, when many records end with the
    /// same ones (the count in `body` includes them). Kept apart so that one array serves all
    /// those records instead of a copy of each body with them appended.
    public var trailer: [UInt8]

    public init(timestamp: Int64, body: [UInt8], trailer: [UInt8] = []) {
        self.timestamp = timestamp
        self.body = body
        self.trailer = trailer
    }

    /// The record's bytes after its attributes, timestamp and offset deltas.
    public var size: Int { body.count + trailer.count }

    public init(_ record: Record) throws(SegmentLogError) {
        var body: [UInt8] = []
        body.reserveCapacity(16 + (record.key?.count ?? 0) + (record.value?.count ?? 0) + 32 * record.headers.count)
        try Self.appendField(record.key, to: &body)
        try Self.appendField(record.value, to: &body)
        Self.appendCount(record.headers.count, to: &body)
        for header in record.headers { try Self.appendHeader(key: header.key, value: header.value, to: &body) }
        self.init(timestamp: record.timestamp, body: body)
    }

    /// Appends a key or value field (nil: null).
    public static func appendField(_ field: [UInt8]?, to body: inout [UInt8]) throws(SegmentLogError) {
        guard let field else { return body.appendVarint(-1) }
        guard field.count <= Int32.max else { throw SegmentLogError(.invalidArgument, "field of \(field.count) bytes") }
        body.appendVarint(Int32(field.count))
        body.append(contentsOf: field)
    }

    /// Appends the header count (the headers follow it).
    public static func appendCount(_ count: Int, to body: inout [UInt8]) {
        body.appendVarint(Int32(clamping: count))
    }

    public static func appendHeader(key: String, value: [UInt8]?, to body: inout [UInt8]) throws(SegmentLogError) {
        // The key's UTF-8 straight into the body: a copy of it per header per record was a
        // measurable share of a drain.
        body.appendVarint(Int32(key.utf8.count))
        body.append(contentsOf: key.utf8)
        try appendField(value, to: &body)
    }

    /// The record the body holds.
    public func decoded() throws(SegmentLogError) -> Record {
        var reader = ByteReader(trailer.isEmpty ? body : body + trailer)
        return try BatchCodec.decodeBody(&reader, timestamp: timestamp)
    }

    /// The LSN in the `outflow.lsn` header, if the body is well formed and has one.
    public var sourceLSN: UInt64? { (try? decoded())?.sourceLSN }
}
