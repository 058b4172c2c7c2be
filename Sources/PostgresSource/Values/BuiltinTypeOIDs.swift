/// How a type's text is decoded: the shape of value its output function prints.
enum ScalarKind: Sendable, Hashable {
    case bool, int, numeric, float4, float8, text, uuid, json, bytea
    case date, time, timetz, timestamp, timestamptz, interval
}

/// A built-in type: fixed OIDs assigned in Postgres' catalog (pg_type.dat), the same on every
/// server since they were introduced.
struct BuiltinType: Sendable {
    enum Kind: Sendable, Hashable {
        case scalar(ScalarKind)
        case array(elementOID: UInt32)
    }

    let oid: UInt32
    let name: String
    let kind: Kind
}

/// The OIDs Outflow knows without asking the server.
public enum BuiltinTypeOID {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let char: UInt32 = 18
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let box: UInt32 = 603
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let date: UInt32 = 1082
    public static let time: UInt32 = 1083
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let interval: UInt32 = 1186
    public static let timetz: UInt32 = 1266
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802

    /// The name of a built-in type (as in pg_type.typname), nil for any other OID.
    public static func name(of oid: UInt32) -> String? { BuiltinTypes.byOID[oid]?.name }

    /// The element type of a built-in array type, nil for any other OID.
    public static func elementType(ofArray oid: UInt32) -> UInt32? {
        guard case .array(let element) = BuiltinTypes.byOID[oid]?.kind else { return nil }
        return element
    }

    /// Every built-in type OID Outflow knows, scalar and array.
    public static var all: [UInt32] { BuiltinTypes.table.map(\.oid) }
}

enum BuiltinTypes {
    /// (scalar OID, name, kind, array OID, array name). Types without a decoder of their own
    /// are `.text`: their output is passed on as the text Postgres printed.
    private static let scalars: [(UInt32, String, ScalarKind, UInt32, String)] = [
        (16, "bool", .bool, 1000, "_bool"),
        (17, "bytea", .bytea, 1001, "_bytea"),
        (18, "char", .text, 1002, "_char"),
        (19, "name", .text, 1003, "_name"),
        (20, "int8", .int, 1016, "_int8"),
        (21, "int2", .int, 1005, "_int2"),
        (22, "int2vector", .text, 1006, "_int2vector"),
        (23, "int4", .int, 1007, "_int4"),
        (24, "regproc", .text, 1008, "_regproc"),
        (25, "text", .text, 1009, "_text"),
        (26, "oid", .int, 1028, "_oid"),
        (27, "tid", .text, 1010, "_tid"),
        (28, "xid", .int, 1011, "_xid"),
        (29, "cid", .int, 1012, "_cid"),
        (30, "oidvector", .text, 1013, "_oidvector"),
        (114, "json", .json, 199, "_json"),
        (142, "xml", .text, 143, "_xml"),
        (600, "point", .text, 1017, "_point"),
        (601, "lseg", .text, 1018, "_lseg"),
        (602, "path", .text, 1019, "_path"),
        (603, "box", .text, 1020, "_box"),
        (604, "polygon", .text, 1027, "_polygon"),
        (628, "line", .text, 629, "_line"),
        (650, "cidr", .text, 651, "_cidr"),
        (700, "float4", .float4, 1021, "_float4"),
        (701, "float8", .float8, 1022, "_float8"),
        (718, "circle", .text, 719, "_circle"),
        (774, "macaddr8", .text, 775, "_macaddr8"),
        (790, "money", .text, 791, "_money"),
        (829, "macaddr", .text, 1040, "_macaddr"),
        (869, "inet", .text, 1041, "_inet"),
        (1033, "aclitem", .text, 1034, "_aclitem"),
        (1042, "bpchar", .text, 1014, "_bpchar"),
        (1043, "varchar", .text, 1015, "_varchar"),
        (1082, "date", .date, 1182, "_date"),
        (1083, "time", .time, 1183, "_time"),
        (1114, "timestamp", .timestamp, 1115, "_timestamp"),
        (1184, "timestamptz", .timestamptz, 1185, "_timestamptz"),
        (1186, "interval", .interval, 1187, "_interval"),
        (1266, "timetz", .timetz, 1270, "_timetz"),
        (1560, "bit", .text, 1561, "_bit"),
        (1562, "varbit", .text, 1563, "_varbit"),
        (1700, "numeric", .numeric, 1231, "_numeric"),
        (1790, "refcursor", .text, 2201, "_refcursor"),
        (2202, "regprocedure", .text, 2207, "_regprocedure"),
        (2203, "regoper", .text, 2208, "_regoper"),
        (2204, "regoperator", .text, 2209, "_regoperator"),
        (2205, "regclass", .text, 2210, "_regclass"),
        (2206, "regtype", .text, 2211, "_regtype"),
        (2950, "uuid", .uuid, 2951, "_uuid"),
        (2970, "txid_snapshot", .text, 2949, "_txid_snapshot"),
        (3220, "pg_lsn", .text, 3221, "_pg_lsn"),
        (3614, "tsvector", .text, 3643, "_tsvector"),
        (3615, "tsquery", .text, 3645, "_tsquery"),
        (3734, "regconfig", .text, 3735, "_regconfig"),
        (3769, "regdictionary", .text, 3770, "_regdictionary"),
        (3802, "jsonb", .json, 3807, "_jsonb"),
        (3904, "int4range", .text, 3905, "_int4range"),
        (3906, "numrange", .text, 3907, "_numrange"),
        (3908, "tsrange", .text, 3909, "_tsrange"),
        (3910, "tstzrange", .text, 3911, "_tstzrange"),
        (3912, "daterange", .text, 3913, "_daterange"),
        (3926, "int8range", .text, 3927, "_int8range"),
        (4072, "jsonpath", .text, 4073, "_jsonpath"),
        (4089, "regnamespace", .text, 4090, "_regnamespace"),
        (4096, "regrole", .text, 4097, "_regrole"),
        (4191, "regcollation", .text, 4192, "_regcollation"),
        (4451, "int4multirange", .text, 6150, "_int4multirange"),
        (4532, "nummultirange", .text, 6151, "_nummultirange"),
        (4533, "tsmultirange", .text, 6152, "_tsmultirange"),
        (4534, "tstzmultirange", .text, 6153, "_tstzmultirange"),
        (4535, "datemultirange", .text, 6155, "_datemultirange"),
        (4536, "int8multirange", .text, 6157, "_int8multirange"),
        (5038, "pg_snapshot", .text, 5039, "_pg_snapshot"),
        // xid8 is unsigned 64-bit: it may not fit an Int64, so it stays text.
        (5069, "xid8", .text, 271, "_xid8"),
    ]

    /// Built-in types without an array type.
    private static let unarrayed: [(UInt32, String, ScalarKind)] = [
        (194, "pg_node_tree", .text),
        (705, "unknown", .text),
    ]

    static let table: [BuiltinType] =
        scalars.flatMap { oid, name, kind, arrayOID, arrayName in
            [
                BuiltinType(oid: oid, name: name, kind: .scalar(kind)),
                BuiltinType(oid: arrayOID, name: arrayName, kind: .array(elementOID: oid)),
            ]
        } + unarrayed.map { BuiltinType(oid: $0.0, name: $0.1, kind: .scalar($0.2)) }

    /// The types most columns have, without a dictionary lookup.
    @inline(__always)
    static func common(_ oid: UInt32) -> (ScalarKind, String)? {
        switch oid {
        case 16: (.bool, "bool")
        case 20: (.int, "int8")
        case 21: (.int, "int2")
        case 23: (.int, "int4")
        case 25: (.text, "text")
        case 114: (.json, "json")
        case 701: (.float8, "float8")
        case 1043: (.text, "varchar")
        case 1082: (.date, "date")
        case 1114: (.timestamp, "timestamp")
        case 1184: (.timestamptz, "timestamptz")
        case 1700: (.numeric, "numeric")
        case 2950: (.uuid, "uuid")
        case 3802: (.json, "jsonb")
        default: nil
        }
    }

    static let byOID: [UInt32: BuiltinType] = Dictionary(uniqueKeysWithValues: table.map { ($0.oid, $0) })
}
