import BinaryIO
import CLibPQ

/// A statement parameter in Postgres' binary format, with its type OID: what a sink needs to
/// send thousands of rows in one statement (arrays unnested on the server) without quoting
/// anything into the SQL text.
public struct PostgresParameter: Sendable {
    public var typeOID: UInt32
    /// The value in the type's binary send format; nil for NULL.
    public var bytes: [UInt8]?

    public init(typeOID: UInt32, bytes: [UInt8]?) {
        self.typeOID = typeOID
        self.bytes = bytes
    }

    public static func text(_ value: String) -> PostgresParameter { PostgresParameter(typeOID: BuiltinTypeOID.text, bytes: Array(value.utf8)) }
    public static func int8(_ value: Int64) -> PostgresParameter {
        var bytes: [UInt8] = []
        bytes.appendInteger(value)
        return PostgresParameter(typeOID: BuiltinTypeOID.int8, bytes: bytes)
    }
    public static func bytea(_ value: [UInt8]?) -> PostgresParameter { PostgresParameter(typeOID: BuiltinTypeOID.bytea, bytes: value) }

    /// A one-dimensional array (lower bound 1) of elements already in their binary format, as
    /// `array_send` writes it: dimensions, a has-nulls flag, the element type, then each
    /// element length-prefixed (-1 for NULL).
    public static func array(of elementOID: UInt32, arrayOID: UInt32, _ elements: [[UInt8]?]) -> PostgresParameter {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + ($1?.count ?? 0) })
        bytes.appendInteger(Int32(1))
        bytes.appendInteger(Int32(elements.contains { $0 == nil } ? 1 : 0))
        bytes.appendInteger(elementOID)
        bytes.appendInteger(Int32(elements.count))
        bytes.appendInteger(Int32(1))
        for element in elements {
            if let element {
                bytes.appendInteger(Int32(element.count))
                bytes.append(contentsOf: element)
            } else {
                bytes.appendInteger(Int32(-1))
            }
        }
        return PostgresParameter(typeOID: arrayOID, bytes: bytes)
    }
}

extension PostgresConnection {
    /// Runs one statement with parameters (`$1`, `$2` …) sent in binary, and returns its rows as
    /// text. The extended protocol runs one statement per call: no SQL is built from values.
    @discardableResult
    public func execute(_ sql: String, parameters: [PostgresParameter]) throws(PostgresError) -> QueryResult {
        let types = parameters.map { Oid($0.typeOID) }
        let lengths = parameters.map { Int32($0.bytes?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: parameters.count)
        // Each parameter's bytes stay alive (and in place) for the call.
        let pointers = parameters.map { parameter -> UnsafeMutablePointer<CChar>? in
            guard let bytes = parameter.bytes else { return nil }
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress { UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: bytes.count) }
            }
            return pointer
        }
        defer { pointers.forEach { $0?.deallocate() } }
        let result = pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
            PQexecParams(handle, sql, Int32(parameters.count), types, values.baseAddress, lengths, formats, 0)
        }
        return try takeResult(result, of: "for a statement with parameters")
    }

    /// Whether the connection is still usable (libpq's view: a lost socket shows here once a
    /// call noticed it).
    public var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }
}
