import Testing
import PostgresSource

extension Values {
    /// Values as pgoutput itself sends them: a row is inserted into a published table, the
    /// slot's changes are peeked through SQL (`pg_logical_slot_peek_binary_changes`, the same
    /// plugin a replication connection streams from), and each column's text is decoded by
    /// the type OID of pgoutput's own Relation message.
    @Suite struct PgoutputOracleTests {
        @Test func columnsOfAnInsertDecodeByTheirRelationTypes() throws {
            let sql = try PostgresConnection(try TestPostgres.url())
            // pgoutput prints with the settings of the session decoding: here this one, in a
            // replication connection the walsender's.
            try sql.execute("SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'America/St_Johns'")
            let table = TestPostgres.uniqueName("pgoutput_values")
            let mood = TestPostgres.uniqueName("pgoutput_mood")
            let publication = TestPostgres.uniqueName("pgoutput_pub")
            let slot = TestPostgres.uniqueName("pgoutput_slot")
            try sql.execute("""
                CREATE TYPE \(mood) AS ENUM ('happy', 'so so');
                CREATE TABLE \(table) (
                    id int PRIMARY KEY, i8 int8, n numeric, f4 float4, f8 float8, t text, u uuid, j jsonb, b bytea,
                    d date, ts timestamp, tz timestamptz, tm time, ttz timetz, iv interval, ai int4[], at text[], m \(mood), ms \(mood)[]);
                CREATE PUBLICATION \(publication) FOR TABLE \(table);
                """)
            defer {
                _ = try? sql.execute("SELECT pg_drop_replication_slot('\(slot)')")
                _ = try? sql.execute("DROP PUBLICATION \(publication); DROP TABLE \(table); DROP TYPE \(mood)")
            }
            try sql.execute("SELECT pg_create_logical_replication_slot('\(slot)', 'pgoutput')")
            try sql.execute("""
                INSERT INTO \(table) VALUES
                  (1, -9223372036854775808, 1e-30, 3.4028235e38, 'NaN', E'zoë 🐘 "q" \\\\ \\n', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                   '{"k": [1, "v"]}', '\\x00ff', '0044-03-15 BC', '294276-12-31 23:59:59.999999', '1900-01-01 00:00:00+00',
                   '24:00:00', '13:45:06.5-03:30:15', '-1 years -2 mons +3 days -04:05:06.789',
                   '[0:1]={1,NULL}', ARRAY['a,b', '', NULL, '"'], 'so so', '{happy,"so so"}'),
                  (2, NULL, 'NaN', '-Infinity', 1.1, '', NULL, NULL, '', 'infinity', '-infinity', 'infinity',
                   NULL, NULL, '0', '{}', '{{x,y},{z,w}}', NULL, '{}')
                """)

            let changes = try sql.execute(
                "SELECT encode(data, 'hex') AS hex FROM pg_logical_slot_peek_binary_changes('\(slot)', NULL, NULL, 'proto_version', '1', 'publication_names', '\(publication)')")
            var columns: [(name: String, typeOID: UInt32)] = []
            var rows: [[PgoutputTuple.Column]] = []
            var typeMessages: [UInt32: String] = [:]
            for row in changes.rows.indices {
                var message = PgoutputMessage(hex: try #require(changes.value("hex", row: row)))
                switch message.byte() {
                case UInt8(ascii: "R"):
                    _ = message.int32()  // relation id
                    _ = message.cString()  // namespace
                    _ = message.cString()  // name
                    _ = message.byte()  // replica identity
                    columns = (0..<Int(message.int16())).map { _ in
                        _ = message.byte()  // flags
                        let name = message.cString()
                        let oid = UInt32(bitPattern: message.int32())
                        _ = message.int32()  // typmod
                        return (name, oid)
                    }
                case UInt8(ascii: "Y"):
                    let oid = UInt32(bitPattern: message.int32())
                    _ = message.cString()
                    typeMessages[oid] = message.cString()
                case UInt8(ascii: "I"):
                    _ = message.int32()
                    #expect(message.byte() == UInt8(ascii: "N"))
                    rows.append(PgoutputTuple.read(&message))
                default:
                    continue
                }
            }
            #expect(rows.count == 2)
            #expect(columns.count == 19)

            // The enum and its array are not built in: pgoutput names them in Type messages, the
            // registry learns what they are from pg_type.
            var registry = PGTypeRegistry()
            try registry.load(oids: columns.map(\.typeOID).filter { BuiltinTypeOID.name(of: $0) == nil }, from: sql)
            #expect(typeMessages.values.contains(mood))
            let decoder = PGValueDecoder(registry: registry)

            // The same rows through SQL, printed by the same output functions in this session,
            // with a few facts computed by Postgres.
            let selected = try sql.execute(
                "SELECT *, CASE WHEN isfinite(tz) THEN (extract(epoch from tz) * 1000000)::numeric(30, 0)::text END AS tz_micros, CASE WHEN isfinite(d) THEN (d - '2000-01-01')::text END AS d_days FROM \(table) ORDER BY id")
            for (index, tuple) in rows.enumerated() {
                for (column, data) in zip(columns, tuple) {
                    let decoded: PGValue
                    switch data {
                    case .null: decoded = .null
                    case .text(let bytes): decoded = try decoder.decode(text: bytes, typeOID: column.typeOID)
                    case .other(let kind):
                        Issue.record("column \(column.name) arrived as \(kind)")
                        continue
                    }
                    let expected = try selected.value(column.name, row: index).map { try decoder.decode(text: $0, typeOID: column.typeOID) } ?? .null
                    #expect(String(describing: decoded) == String(describing: expected), "\(column.name) of row \(index)")
                    if index == 0 {
                        switch column.name {
                        case "tz":
                            guard case .timestamptz(let instant) = decoded else { Issue.record("tz"); break }
                            #expect(instant.microsecondsSinceUnixEpoch?.description == selected.value("tz_micros", row: 0))
                        case "d":
                            #expect(decoded == .date(.days(sincePostgresEpoch: try #require(selected.value("d_days", row: 0).flatMap(Int32.init)))))
                        case "m":
                            #expect(decoded == .text("so so"))
                        case "ms":
                            #expect(decoded.arrayValue?.elements == [.text("happy"), .text("so so")])
                        case "i8":
                            #expect(decoded == .int(.min))
                        case "ai":
                            #expect(decoded.arrayValue?.dimensions == [PGArray.Dimension(lowerBound: 0, length: 2)])
                        default:
                            break
                        }
                    }
                }
            }
        }
    }
}

/// Reads a pgoutput message (protocol version 1) from its hex text.
struct PgoutputMessage {
    let bytes: [UInt8]
    var index = 0

    init(hex: String) {
        let digits = Array(hex.utf8).map { byte -> UInt8 in
            byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : byte - UInt8(ascii: "a") + 10
        }
        bytes = stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    mutating func byte() -> UInt8 {
        defer { index += 1 }
        return bytes[index]
    }

    mutating func int16() -> Int16 {
        Int16(bitPattern: UInt16(byte()) << 8 | UInt16(byte()))
    }

    mutating func int32() -> Int32 {
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 8 | UInt32(byte()) }
        return Int32(bitPattern: value)
    }

    mutating func cString() -> String {
        let start = index
        while bytes[index] != 0 { index += 1 }
        defer { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        defer { index += count }
        return Array(bytes[index..<index + count])
    }
}

enum PgoutputTuple {
    enum Column {
        case null
        case text([UInt8])
        /// Unchanged TOAST (`u`) or binary (`b`): not expected here.
        case other(Character)
    }

    static func read(_ message: inout PgoutputMessage) -> [Column] {
        (0..<Int(message.int16())).map { _ in
            let kind = message.byte()
            switch kind {
            case UInt8(ascii: "n"): return .null
            case UInt8(ascii: "t"): return .text(message.bytes(Int(message.int32())))
            default: return .other(Character(Unicode.Scalar(kind)))
            }
        }
    }
}
