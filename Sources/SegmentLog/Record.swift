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
    public static func parse(_ bytes: [UInt8]) -> UInt64? {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        guard let high = hex(bytes[..<slash]), let low = hex(bytes[(slash + 1)...]) else { return nil }
        return high << 32 | low
    }

    public static func parse(_ text: String) -> UInt64? { parse(Array(text.utf8)) }

    public static func format(_ lsn: UInt64) -> String {
        String(lsn >> 32, radix: 16, uppercase: true) + "/" + String(lsn & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    private static func hex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard (1...8).contains(digits.count) else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}

extension Record {
    /// The LSN in the `outflow.lsn` header, if the record has a well-formed one.
    public var sourceLSN: UInt64? { header(SourcePosition.headerKey).flatMap(SourcePosition.parse) }
}
