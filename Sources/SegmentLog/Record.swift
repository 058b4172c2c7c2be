import BinaryIO

/// A record header: a UTF-8 key and optional bytes, as Kafka stores them.
public struct RecordHeader: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    public init(key: String, text: String) {
        self.init(key: key, value: Array(text.utf8))
    }
}

/// One record as the writer takes it: the offset is assigned by the log.
public struct Record: Hashable, Sendable {
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    /// Milliseconds since the Unix epoch (CreateTime).
    public var timestamp: Int64

    public init(key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = [], timestamp: Int64) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// The value of the first header called `name`.
    public func header(_ name: String) -> [UInt8]? {
        headers.first { $0.key == name }?.value ?? nil
    }
}

/// A record read back from the log, with the offset and the batch facts a consumer may want.
public struct StoredRecord: Hashable, Sendable {
    public var offset: Int64
    public var record: Record

    public var key: [UInt8]? { record.key }
    public var value: [UInt8]? { record.value }
    public var headers: [RecordHeader] { record.headers }
    public var timestamp: Int64 { record.timestamp }
}

/// The header that carries a record's source position: the commit LSN of its source
/// transaction as Postgres prints it, `X/Y` in hexadecimal.
public enum SourcePosition {
    public static let headerKey = "outflow.lsn"

    /// Parses `X/Y` (1 to 8 hex digits each side) into the 64-bit LSN.
    public static func parse(_ bytes: [UInt8]) -> UInt64? { LSNText.parse(bytes) }

    public static func parse(_ text: String) -> UInt64? { LSNText.parse(text) }

    public static func format(_ lsn: UInt64) -> String { LSNText.string(lsn) }
}

extension Record {
    /// The LSN in the `outflow.lsn` header, if the record has a well-formed one.
    public var sourceLSN: UInt64? { header(SourcePosition.headerKey).flatMap(SourcePosition.parse) }
}
