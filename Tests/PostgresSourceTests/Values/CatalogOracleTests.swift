import Testing
import PostgresSource

extension Values {
    /// The built-in OIDs and the registry, checked against the server's pg_type.
    @Suite struct CatalogOracleTests {
        @Test func builtinOIDsMatchTheServersCatalog() throws {
            let sql = try PostgresConnection(try TestPostgres.url())
            let oids = BuiltinTypeOID.all
            let result = try sql.execute(
                "SELECT oid::int8 AS oid, typname::text AS name, typelem::int8 AS element, typcategory::text AS category FROM pg_type WHERE oid = ANY('{\(oids.map(String.init).joined(separator: ","))}'::oid[])")
            #expect(result.rows.count == oids.count, "some built-in OIDs are unknown to the server")
            for row in result.rows.indices {
                let oid = try #require(result.value("oid", row: row).flatMap(UInt32.init))
                #expect(BuiltinTypeOID.name(of: oid) == result.value("name", row: row), "OID \(oid)")
                let element = result.value("element", row: row).flatMap(UInt32.init)
                // int2vector and oidvector are in the array category but print space-separated
                // lists, not array syntax: they decode as text.
                if result.value("category", row: row) == "A", oid != 22, oid != 30 {
                    #expect(BuiltinTypeOID.elementType(ofArray: oid) == element, "OID \(oid)")
                } else {
                    #expect(BuiltinTypeOID.elementType(ofArray: oid) == nil, "OID \(oid)")
                }
            }
            // The named constants, by name.
            let named: [(UInt32, String)] = [
                (BuiltinTypeOID.bool, "bool"), (BuiltinTypeOID.bytea, "bytea"), (BuiltinTypeOID.int2, "int2"), (BuiltinTypeOID.int4, "int4"),
                (BuiltinTypeOID.int8, "int8"), (BuiltinTypeOID.text, "text"), (BuiltinTypeOID.json, "json"), (BuiltinTypeOID.jsonb, "jsonb"),
                (BuiltinTypeOID.numeric, "numeric"), (BuiltinTypeOID.uuid, "uuid"), (BuiltinTypeOID.timestamptz, "timestamptz"),
                (BuiltinTypeOID.interval, "interval"), (BuiltinTypeOID.timetz, "timetz"), (BuiltinTypeOID.float4, "float4"),
            ]
            for (oid, name) in named {
                #expect(try sql.execute("SELECT typname::text AS t FROM pg_type WHERE oid = \(oid)").value("t") == name)
            }
        }

        @Test func enumsDomainsAndTheirArraysThroughTheRegistry() throws {
            let sql = try PostgresConnection(try TestPostgres.url())
            try sql.execute("SET DateStyle = ISO")
            let mood = TestPostgres.uniqueName("mood")
            let positive = TestPostgres.uniqueName("positive_id")
            let small = TestPostgres.uniqueName("small_id")
            let prices = TestPostgres.uniqueName("prices")
            let intList = TestPostgres.uniqueName("int_list")
        let table = TestPostgres.uniqueName("registry_oracle")
            try sql.execute("""
                CREATE TYPE \(mood) AS ENUM ('happy', 'so so', 'NULL', 'zoë');
                CREATE DOMAIN \(positive) AS int8 CHECK (VALUE > 0);
                CREATE DOMAIN \(small) AS \(positive) CHECK (VALUE < 1000);
                CREATE DOMAIN \(prices) AS numeric(10,2)[];
                CREATE DOMAIN \(intList) AS int4[];
                CREATE TABLE \(table) (id int, m \(mood), ms \(mood)[], p \(positive), s \(small), ss \(small)[], pr \(prices), d date,
                                       il \(intList)[]);
                """)
            defer {
                _ = try? sql.execute("DROP TABLE \(table); DROP DOMAIN \(intList); DROP DOMAIN \(prices); DROP DOMAIN \(small); DROP DOMAIN \(positive); DROP TYPE \(mood)")
            }
            try sql.execute("""
                INSERT INTO \(table) VALUES
                  (1, 'happy', '{happy,"so so",NULL,"NULL"}', 9223372036854775807, 999, '{1,NULL,2}', '{1.5,2}', '2024-02-29',
                   '{"{1,2}",NULL,"{}","[0:1]={3,4}"}'),
                  (2, 'zoë', '{}', 1, 1, '{{1,2},{3,4}}', '{}', NULL, '{}')
                """)

            let columns = ["m", "ms", "p", "s", "ss", "pr", "d", "il"]
            let oidsResult = try sql.execute(
                "SELECT " + columns.map { "pg_typeof(\($0))::oid::int8 AS \($0)" }.joined(separator: ", ") + " FROM \(table) LIMIT 1")
            let oids = Dictionary(uniqueKeysWithValues: try columns.map { ($0, try #require(oidsResult.value($0).flatMap(UInt32.init))) })

            // What pgoutput's Type messages would name: the column types that are not built in.
            var registry = PGTypeRegistry()
            try registry.load(oids: columns.compactMap { oids[$0] }.filter { BuiltinTypeOID.name(of: $0) == nil }, from: sql)
            #expect(registry[oids["m"]!]?.kind == .enumeration)
            #expect(registry[oids["s"]!]?.kind == .domain(baseOID: oids["p"]!))
            // Loaded transitively: the domain the small domain is built on.
            #expect(registry[oids["p"]!]?.kind == .domain(baseOID: BuiltinTypeOID.int8))
            #expect(registry[oids["pr"]!]?.kind == .domain(baseOID: 1231))
            let decoder = PGValueDecoder(registry: registry)

            let facts = "m::text AS m_label, to_hex(p) AS p_hex, s::int8 AS s_int, array_length(ms, 1) AS ms_length, ss::int8[]::text AS ss_plain"
            let result = try sql.execute("SELECT \(columns.joined(separator: ", ")), \(facts) FROM \(table) ORDER BY id")
            for row in result.rows.indices {
                var values: [String: PGValue] = [:]
                for column in columns {
                    values[column] = try result.value(column, row: row).map { try decoder.decode(text: $0, typeOID: oids[column]!) } ?? .null
                }
                #expect(values["m"] == .text(try #require(result.value("m_label", row: row))))
                guard case .int(let p) = values["p"] else {
                    Issue.record("positive_id is not an int")
                    continue
                }
                #expect(String(p, radix: 16) == result.value("p_hex", row: row))
                #expect(values["s"] == .int(try #require(result.value("s_int", row: row).flatMap(Int64.init))))
                let moods = try #require(values["ms"]?.arrayValue)
                #expect(moods.elementTypeOID == oids["m"])
                #expect(moods.elements.count == result.value("ms_length", row: row).flatMap(Int.init) ?? 0)
                // The array of domain values decodes like the same array cast to int8[].
                let plain = try decoder.decode(text: try #require(result.value("ss_plain", row: row)), typeOID: 1016)
                #expect(values["ss"]?.arrayValue?.elements == plain.arrayValue?.elements)
                #expect(values["ss"]?.arrayValue?.dimensions == plain.arrayValue?.dimensions)
                if row == 0 {
                    #expect(moods.elements == [.text("happy"), .text("so so"), .null, .text("NULL")])
                    #expect(values["pr"]?.jsonFragment == #"["1.50","2.00"]"#)
                    // An array of a domain over int4[]: each element is an array of its own.
                    let lists = try #require(values["il"]?.arrayValue)
                    guard case .array(let listOID) = registry[oids["il"]!]?.kind else {
                        Issue.record("the registry does not know the domain's array type")
                        continue
                    }
                    #expect(lists.elementTypeOID == listOID)
                    #expect(registry[listOID]?.kind == .domain(baseOID: 1007))
                    #expect(lists.elements.count == 4)
                    #expect(lists.elements[0].arrayValue?.elements == [.int(1), .int(2)])
                    #expect(lists.elements[1] == .null)
                    #expect(lists.elements[2].arrayValue?.dimensions == [])
                    #expect(lists.elements[3].arrayValue?.dimensions == [PGArray.Dimension(lowerBound: 0, length: 2)])
                }
            }
        }
    }
}
