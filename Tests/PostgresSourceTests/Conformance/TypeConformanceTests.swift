import Foundation
import PGOutput
import PostgresSource
import Testing

/// Every supported type, with NULLs and edge values: the text a column arrives with must be
/// byte for byte what the type's output function gives for the same row. The expected text
/// is read back with a plain SELECT, whose text-format results are exactly the output
/// function's (`col::text` would differ for char(n), whose cast to text trims the padding).
/// Both sessions use the server's defaults (DateStyle, TimeZone, extra_float_digits,
/// IntervalStyle, bytea_output), as the walsender does.
@Suite struct TypeConformanceTests {
    struct TypeGroup: Sendable, CustomTestStringConvertible {
        var name: String
        /// Column definitions after `id int PRIMARY KEY`.
        var columns: String
        /// SQL value lists for the columns, one row each (a row of NULLs is added).
        var rows: [String]
        var testDescription: String { name }
    }

    static let groups: [TypeGroup] = [
        TypeGroup(name: "integers", columns: "i2 int2, i4 int4, i8 int8", rows: [
            "-32768, -2147483648, -9223372036854775808",
            "32767, 2147483647, 9223372036854775807",
            "0, -1, 1",
        ]),
        TypeGroup(name: "numeric", columns: "n numeric, p numeric(12,4)", rows: [
            "'NaN', 'NaN'",
            "'Infinity', 0",
            "'-Infinity', -0.00005",
            "'-0.000', 12345678.1234",
            "123456789012345678901234567890.123456789012345678901234567890, 1.5",
            "'1e131071', -99999999.9999",  // the largest magnitude numeric prints 131072 digits
            "'-1e-16383', 0.0001",  // the smallest scale
        ]),
        TypeGroup(name: "floats", columns: "r real, d double precision", rows: [
            "'NaN', 'NaN'",
            "'Infinity', '-Infinity'",
            "'-Infinity', 'Infinity'",
            "'-0', '-0'",
            "1.17549435e-38, 2.2250738585072014e-308",
            "3.4028235e+38, 1.7976931348623157e308",
            "1e-45, 5e-324",  // subnormals
            "0.1, 0.1",
            "16777217, 9007199254740993",  // beyond exact integers
        ]),
        TypeGroup(name: "bool", columns: "b bool", rows: ["true", "false"]),
        TypeGroup(name: "strings", columns: #"t text, v varchar(10), c char(5), ch "char", nm name"#, rows: [
            "'', '', '', '', ''",  // empty is not NULL
            "'plain', 'varchar', 'ab', 'x', 'a_name'",  // char(5) pads to 'ab   '
            #"E'quote '' dq \" backslash \\ tab \t newline \n cr \r', 'a\b', 'a ', 'Z', 'With Space'"#,
            "repeat('long ', 4000), 'ten chars!', 'fiver', '9', repeat('n', 63)",  // 20 kB: compressed, decoded whole
        ]),
        TypeGroup(name: "unicode", columns: "t text, c char(3), v varchar(4)", rows: [
            "'emoji 👩‍👩‍👧‍👦 🇪🇺 🏳️‍🌈', 'é', '😀😀'",
            "E'combining e\\u0301 vs \\u00e9, a\\u0308\\u0304', E'e\\u0301', E'a\\u0308'",
            "'Ελληνικά עברית العربية 中文 日本語 한국어', '中', 'עב'",
            "E'zero width \\u200b\\u200d\\ufeff and \\U0010FFFF max', '𝄞', '\u{FFFD}'",
        ]),
        TypeGroup(name: "uuid", columns: "u uuid", rows: [
            "'00000000-0000-0000-0000-000000000000'",
            "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
            "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",  // prints in lower case
            "'{a0eebc999c0b4ef8bb6d6bb9bd380a12}'",
        ]),
        TypeGroup(name: "json", columns: "j json, jb jsonb", rows: [
            #"'{"b": 1,  "a" : [1, 2.50, "x"], "b": 2}', '{"b": 1,  "a" : [1, 2.50, "x"], "b": 2}'"#,  // json keeps the text; jsonb normalizes
            #"'"\u00e9 \ud83d\ude00 \n"', '"\u00e9 \ud83d\ude00 \n"'"#,
            "'null', 'null'",  // a JSON null is not an SQL NULL
            "'[1e400, -0.0, 1E-7]', '[1e400, -0.0, 1E-7]'",
            "'{}', '[]'",
        ]),
        TypeGroup(name: "bytea", columns: "by bytea", rows: [
            #"'\x'"#,
            #"'\x00ff7f80'"#,
            "decode(repeat('00', 3000), 'hex')",
            "(SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g)",
        ]),
        TypeGroup(name: "date", columns: "d date", rows: [
            "'infinity'", "'-infinity'", "'1970-01-01'", "'2000-01-01'", "'1999-12-31'",
            "'4713-01-01 BC'", "'0001-12-31 BC'", "'0001-01-01'", "'5874897-12-31'", "'2024-02-29'",
        ]),
        TypeGroup(name: "time", columns: "t time, tp time(2), tz timetz", rows: [
            "'00:00', '00:00', '00:00:00+15:59'",
            "'23:59:59.999999', '23:59:59.994', '24:00:00-15:59'",
            "'24:00:00', '12:34:56.789', '12:34:56.789+05:30'",
            "'00:00:00.000001', '00:00:00.005', '00:00:00.000001-00:00:01'",
        ]),
        TypeGroup(name: "timestamp", columns: "ts timestamp, tstz timestamptz, ts0 timestamp(0)", rows: [
            "'infinity', 'infinity', 'infinity'",
            "'-infinity', '-infinity', '-infinity'",
            "'1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '1970-01-01 00:00:00.5'",
            "'2000-01-01 00:00:00', '2000-01-01 00:00:00+00', '2000-01-01'",
            "'1999-12-31 23:59:59.999999', '1999-12-31 23:59:59.999999+14', '1999-12-31 23:59:59.4'",
            "'4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', '0001-01-01 BC'",
            "'294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '2038-01-19 03:14:08'",
            "'1969-12-31 23:59:59.999999', '1900-01-01 12:00:00-05:17:32', '0001-01-01'",
        ]),
        TypeGroup(name: "interval", columns: "i interval, s interval second(3)", rows: [
            "'0', '0'",
            "'-178000000 years', '1.23456 seconds'",
            "'178000000 years', '-1 microsecond'",
            "'1 day -1 second', '100 hours'",
            "'1 mon -1 day 00:00:00.000001', '1 day'",
            "'P1Y2M3DT4H5M6.7S', '-0.0005'",
        ]),
        TypeGroup(
            name: "arrays",
            columns: "ai int4[], at text[], an numeric[], ab bool[], au uuid[], ats timestamptz[], ad date[], aby bytea[], aj jsonb[], am int8[][]",
            rows: [
                "'{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'",
                #"'{1,NULL,-3}', '{"a,b","c\"d","NULL",NULL,"",  " spaced ",é😀}', '{NaN,1.50,-Infinity}', '{t,f,NULL}', '{00000000-0000-0000-0000-000000000001}', '{infinity,"2000-01-01 00:00:00+00",-infinity}', '{1970-01-01,infinity}', '{"\\x00ff",NULL}', '{"{\"k\": [1, 2]}",null}', '{{1,2},{3,NULL}}'"#,
                "'[0:1]={7,8}', ARRAY['{braces}', 'back\\slash'], ARRAY[1e-5, 1e20], '{true}', '{}', ARRAY['1970-01-01 00:00:00+00'::timestamptz], '{-infinity}', ARRAY['\\x'::bytea], ARRAY['[]'::jsonb], '[2:3][-1:0]={{1,2},{3,4}}'",
            ]),
    ]

    @Test(arguments: groups)
    func eachColumnArrivesAsTheOutputFunctionPrintsIt(_ group: TypeGroup) throws {
        let fixture = try ReplicationFixture(
            tablesSQL: "CREATE TABLE types_{s} (id int PRIMARY KEY, \(group.columns))", published: ["types_{s}"])
        let table = fixture.name("types_{s}")
        let session = try fixture.ownSession()
        var insert = "BEGIN; INSERT INTO types_{s} (id) VALUES (0);"
        for (index, row) in group.rows.enumerated() { insert += " INSERT INTO types_{s} VALUES (\(index + 1), \(row));" }
        try fixture.execute(insert + " COMMIT;")

        // The expected text: the server's output functions, via a plain SELECT.
        let expected = try fixture.execute("SELECT * FROM types_{s} ORDER BY id")
        #expect(expected.rows.count == group.rows.count + 1)
        let changes = try readTransactions(session, count: 1).compactMap(\.change)
        #expect(changes.count == group.rows.count + 1)

        // The Relation describes the columns as the catalog does.
        let catalog = try fixture.catalogColumns(table)
        let relation = try #require(changes.first?.relation)
        #expect(relation.columns.map(\.name) == catalog.map(\.name))
        #expect(relation.columns.map(\.typeOID) == catalog.map(\.typeOID))
        #expect(relation.columns.map(\.typeModifier) == catalog.map(\.typeModifier))

        for (change, row) in zip(changes, expected.rows) {
            let values = change.newBytes
            for (column, text) in zip(expected.columns, row) {
                let arrived = values[column] ?? nil
                let wanted = text.map { Array($0.utf8) }
                #expect(arrived == wanted, "\(group.name) row \(row[0] ?? "?") column \(column): got \(arrived.map { String(decoding: $0.prefix(200), as: UTF8.self) } ?? "NULL"), the output function gives \(text.map { String($0.prefix(200)) } ?? "NULL")")
            }
            // Text format throughout (binary was not asked for), NULL as 'n'.
            for value in change.newTuple?.columns ?? [] {
                switch value {
                case .text, .null: break
                default: Issue.record("\(group.name): unexpected tuple column \(value)")
                }
            }
        }
        // The all-NULL row: every column but id arrives as NULL ('n'), not as an empty string.
        #expect(changes.first?.newTuple?.columns.dropFirst().allSatisfy { $0 == .null } == true)
    }
}
