import Testing
import PostgresSource

extension Values {
    /// Arrays as Postgres prints them, checked against Postgres' own view of their shape
    /// (`array_lower`, `array_length`) and elements (`unnest`, each element printed alone).
    @Suite struct ArrayOracleTests {
        static let cases: [(type: String, literals: [String])] = [
            ("int4[]", ["'{1,2,NULL}'", "'{}'", "'{{1,2},{3,4}}'", "'[0:2]={7,8,9}'", "'[-1:0][2:3]={{1,2},{3,4}}'", "ARRAY[[[1]],[[2]]]",
                        "'{{{{{{1}}}}}}'", "'{NULL}'"]),
            ("text[]", [#"ARRAY['a,b', '{x}', 'say "hi"', 'back\slash', '', NULL, 'NULL', 'null', ' spaced ', 'zoë 🐘', E'tab\t\nnl', '[1:2]=']"#,
                        "'{}'", #"ARRAY[['a', 'b'], ['"', '\']]"#]),
            ("int8[]", ["ARRAY[-9223372036854775808, 9223372036854775807, NULL]"]),
            ("int2[]", ["ARRAY[-32768, 32767]::int2[]"]),
            ("numeric[]", ["ARRAY[1.50, 'NaN', NULL, 1e-20, '-Infinity']::numeric[]"]),
            ("uuid[]", ["ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, NULL]"]),
            ("json[]", [#"ARRAY['{"a": [1, "x,y"], "b": "{\"}"}'::json, 'null', NULL, '"NULL"']"#]),
            ("jsonb[]", [#"ARRAY['{"a": [1, "x,y"], "b": "{\"}"}'::jsonb, '[]', NULL]"#]),
            ("bool[]", ["ARRAY[true, false, NULL]"]),
            ("timestamp[]", ["ARRAY['2024-02-29 13:45:00.5'::timestamp, 'infinity', '0044-03-15 12:00:00 BC', NULL]"]),
            ("timestamptz[]", ["ARRAY['2024-02-29 13:45:00.5+05:30'::timestamptz, '-infinity', '1900-01-01 00:00:00+00']"]),
            ("date[]", ["ARRAY['2024-02-29'::date, 'infinity', '0001-12-31 BC', NULL]"]),
            ("time[]", ["ARRAY['13:45:06.78'::time, '24:00:00']"]),
            ("timetz[]", ["ARRAY['13:45:06.78-03:30'::timetz]"]),
            ("interval[]", ["ARRAY['1 day -01:00'::interval, '-1 years', '1 year 2 mons 3 days 04:05:06.789']"]),
            ("bytea[]", [#"ARRAY['\x00ff'::bytea, '', NULL, 'a\\b']"#]),
            ("float4[]", ["ARRAY[1.1, 'NaN', '-Infinity', 3.4028235e38]::float4[]"]),
            ("float8[]", ["ARRAY[1.1, 'NaN', 'Infinity', 5e-324, -0.0]::float8[]"]),
            ("varchar[]", ["ARRAY['a', 'b,c', NULL]::varchar(5)[]"]),
            ("char(3)[]", ["ARRAY['a', 'b c']::char(3)[]"]),
            ("\"char\"[]", [#"ARRAY['a', ',', '"']::"char"[]"#]),
            ("name[]", ["ARRAY['pg_class', 'Mixed Case']::name[]"]),
            ("oid[]", ["ARRAY[0, 4294967295]::oid[]"]),
            ("box[]", ["ARRAY[box '((0,0),(1,1))', box '((2,2),(3.5,3))']"]),
        ]

        @Test(arguments: cases)
        func arrays(type: String, literals: [String]) throws {
            let oracle = try ValueOracle()
            let decoder = PGValueDecoder()
            let facts = [
                "lowers": "array_to_string(ARRAY(SELECT array_lower(v, d) FROM generate_series(1, array_ndims(v)) d), ',')",
                "lengths": "array_to_string(ARRAY(SELECT array_length(v, d) FROM generate_series(1, array_ndims(v)) d), ',')",
            ]
            for row in try oracle.rows(type: type, literals: literals, facts: facts) {
                let text = try #require(row.text)
                guard case .array(let array) = try decoder.decode(text: text, typeOID: row.typeOID) else {
                    Issue.record("\(row.literal) is not an array")
                    continue
                }
                #expect(array.dimensions.map { String($0.lowerBound) }.joined(separator: ",") == row.fact("lowers") ?? "", "\(row.literal)")
                #expect(array.dimensions.map { String($0.length) }.joined(separator: ",") == row.fact("lengths") ?? "", "\(row.literal)")

                let elements = try oracle.sql.execute(
                    "SELECT e, pg_typeof(e)::oid::int8 AS oid FROM unnest((\(row.literal))::\(type)) WITH ORDINALITY AS u(e, o) ORDER BY o")
                #expect(elements.rows.count == array.elements.count, "\(row.literal)")
                for (index, element) in zip(elements.rows.indices, array.elements) {
                    let elementOID = try #require(elements.value("oid", row: index).flatMap(UInt32.init))
                    #expect(array.elementTypeOID == elementOID)
                    let alone: PGValue = try elements.value("e", row: index).map { try decoder.decode(text: $0, typeOID: elementOID) } ?? .null
                    // Described rather than compared, so that NaN matches NaN.
                    #expect(String(describing: element) == String(describing: alone), "\(row.literal) [\(index)]")
                }
            }
        }

        @Test func arraysInJSONAreNestedPerDimension() throws {
            let oracle = try ValueOracle()
            let rows = try oracle.rows(
                type: "text[]", literals: [#"ARRAY[['a"', NULL], ['{,}', E'\\']]"#, "'[5:6]={x,y}'"],
                facts: ["json": "to_jsonb(v)"])
            for row in rows {
                let value = try PGValueDecoder().decode(text: try #require(row.text), typeOID: row.typeOID)
                let fragment = try oracle.sql.quoteLiteral(value.jsonFragment)
                #expect(try oracle.evaluate("\(fragment)::jsonb = \(try oracle.sql.quoteLiteral(row.fact("json") ?? ""))::jsonb") == "true",
                        "\(value.jsonFragment) vs \(row.fact("json") ?? "")")
            }
        }
    }
}
