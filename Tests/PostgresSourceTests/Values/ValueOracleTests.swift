import Testing
import PostgresSource

extension Values {
    /// Decoding checked against the real server: Postgres prints each value, the decoder reads
    /// it, and what it read is compared with facts Postgres computes itself.
    @Suite struct ValueOracleTests {
        let decoder = PGValueDecoder()

        func decode(_ row: ValueOracle.Row) throws -> PGValue {
            guard let text = row.text else { return .null }
            return try decoder.decode(text: text, typeOID: row.typeOID)
        }

        @Test(arguments: ["int2", "int4", "int8", "oid"])
        func integers(type: String) throws {
            let oracle = try ValueOracle()
            let literals: [String: [String]] = [
                "int2": ["0", "-32768", "32767", "-1"],
                "int4": ["0", "-2147483648", "2147483647", "42"],
                "int8": ["0", "-9223372036854775808", "9223372036854775807", "-1", "1234567890123"],
                "oid": ["0", "4294967295", "16384"],
            ]
            // to_hex prints the two's complement of negatives (of int8; of int4 for the others).
            let rows = try oracle.rows(type: type, literals: literals[type]!, facts: ["hex": type == "int8" ? "to_hex(v)" : type == "oid" ? "to_hex(v::int8)" : "to_hex(v::int4)"])
            for row in rows {
                guard case .int(let value) = try decode(row) else {
                    Issue.record("\(row.literal) is not an int")
                    continue
                }
                let bits = type == "int8" || type == "oid" ? UInt64(bitPattern: value) : UInt64(UInt32(truncatingIfNeeded: value))
                #expect(String(bits, radix: 16) == row.fact("hex"), "\(row.literal)")
            }
        }

        @Test func numerics() throws {
            let oracle = try ValueOracle()
            let literals = [
                "0", "1.50", "-0.000", "'NaN'", "'Infinity'", "'-Infinity'", "1e-1000", "-9.999e130000", "1e100",
                "123456789012345678901234567890.123456789012345678901234567890", "0.1::numeric(20,10)", "-5::numeric(10,3)",
            ]
            let rows = try oracle.rows(type: "numeric", literals: literals, facts: ["scale": "scale(v)"])
            for row in rows {
                guard case .numeric(let numeric) = try decode(row) else {
                    Issue.record("\(row.literal) is not a numeric")
                    continue
                }
                // The decoded digits, sent back, are the same number.
                #expect(try oracle.evaluate("\(try oracle.sql.quoteLiteral(numeric.text))::numeric = \(row.literal)::numeric") == "true", "\(row.literal)")
                // Finite ones keep their scale: as many digits after the point as Postgres has.
                if numeric.isFinite {
                    let fraction = numeric.text.split(separator: ".").dropFirst().first?.count ?? 0
                    #expect(String(fraction) == row.fact("scale"), "\(row.literal)")
                }
                #expect(try decode(row).jsonFragment == "\"\(numeric.text)\"")
            }
        }

        @Test func floats() throws {
            let oracle = try ValueOracle()
            let literals = ["1.1", "-0", "1e308", "5e-324", "'NaN'", "'Infinity'", "'-Infinity'", "pi()", "1/3.0", "2.2250738585072014e-308"]
            for row in try oracle.rows(type: "float8", literals: literals, facts: ["bits": "encode(float8send(v), 'hex')"]) {
                guard case .float8(let value) = try decode(row) else {
                    Issue.record("\(row.literal) is not a float8")
                    continue
                }
                #expect(hex64(value.bitPattern) == row.fact("bits"), "\(row.literal)")
            }
            let literals4 = ["1.1", "-0", "3.4028235e38", "1e-45", "'NaN'", "'-Infinity'", "pi()", "16777217"]
            for row in try oracle.rows(type: "float4", literals: literals4, facts: ["bits": "encode(float4send(v), 'hex')"]) {
                guard case .float4(let value) = try decode(row) else {
                    Issue.record("\(row.literal) is not a float4")
                    continue
                }
                #expect(hex64(UInt64(value.bitPattern), digits: 8) == row.fact("bits"), "\(row.literal)")
            }
        }

        func hex64(_ bits: UInt64, digits: Int = 16) -> String {
            let hex = String(bits, radix: 16)
            return String(repeating: "0", count: digits - hex.count) + hex
        }

        @Test(arguments: [("text", "textsend"), ("varchar(20)", "varcharsend"), ("char(20)", "bpcharsend"), ("name", "namesend")])
        func texts(type: String, send: String) throws {
            let oracle = try ValueOracle()
            let literals = ["''", "'a'", "'zoë 🐘'", "E'tab\\there\\nnewline'", "'quote\" back\\slash'", "'NULL'", "' x '", "NULL"]
            for row in try oracle.rows(type: type, literals: literals, facts: ["bytes": "encode(\(send)(v), 'hex')"]) {
                let value = try decode(row)
                guard case .text(let text) = value else {
                    #expect(value == .null && row.literal == "NULL", "\(row.literal)")
                    continue
                }
                #expect(Array(text.utf8).hex == row.fact("bytes"), "\(row.literal)")
            }
        }

        @Test func uuids() throws {
            let oracle = try ValueOracle()
            let literals = ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'{A0EEBC999C0B4EF8BB6D6BB9BD380A11}'", "'00000000-0000-0000-0000-000000000000'",
                            "'ffffffff-ffff-ffff-ffff-ffffffffffff'"]
            for row in try oracle.rows(type: "uuid", literals: literals, facts: ["bytes": "encode(uuid_send(v), 'hex')", "text": "v::text"]) {
                guard case .uuid(let uuid) = try decode(row) else {
                    Issue.record("\(row.literal) is not a uuid")
                    continue
                }
                #expect(uuid.bytes.hex == row.fact("bytes"))
                #expect(uuid.description == row.fact("text"))
            }
        }

        @Test(arguments: ["json", "jsonb"])
        func json(type: String) throws {
            let oracle = try ValueOracle()
            let literals = [#"'{"b": [1, 2.50, "\u00e9\n"],   "a": null}'"#, "'[]'", "'\"just a string\"'", "'1e400'", "'null'",
                            #"'{"deep": {"er": {"est": [true, false, {"k": "v\"q"}]}}}'"#, #"'"zoë 🐘 \\u0000-free"'"#]
            for row in try oracle.rows(type: type, literals: literals, facts: ["bytes": "encode(convert_to(v::text, 'UTF8'), 'hex')"]) {
                let value = try decode(row)
                guard case .json(let text) = value else {
                    Issue.record("\(row.literal) is not json")
                    continue
                }
                // Byte for byte what Postgres printed …
                #expect(Array(text.utf8).hex == row.fact("bytes"), "\(row.literal)")
                // … and inline in JSON, the same document to Postgres.
                let fragment = try oracle.sql.quoteLiteral(value.jsonFragment)
                #expect(try oracle.evaluate("\(fragment)::jsonb = \(row.literal)::jsonb") == "true", "\(row.literal)")
            }
        }

        @Test(arguments: ["hex", "escape"])
        func byteas(output: String) throws {
            let oracle = try ValueOracle()
            try oracle.sql.execute("SET bytea_output = \(output)")
            let literals = ["''::bytea", "'\\x00ff7f80'::bytea", "'abc\\\\def'::bytea", "convert_to('zoë \" {}', 'UTF8')",
                            "decode(repeat('00010203fffefd5c22', 50), 'hex')", "sha256('x')"]
            let facts = ["hex": "encode(v, 'hex')", "base64": "replace(encode(v, 'base64'), E'\\n', '')"]
            for row in try oracle.rows(type: "bytea", literals: literals, facts: facts) {
                let value = try decode(row)
                guard case .bytea(let bytes) = value else {
                    Issue.record("\(row.literal) is not bytea")
                    continue
                }
                #expect(bytes.hex == row.fact("hex"), "\(row.literal)")
                #expect(value.jsonFragment == "\"\(row.fact("base64") ?? "")\"", "\(row.literal)")
            }
        }

        @Test func dates() throws {
            let oracle = try ValueOracle()
            let literals = ["'2000-01-01'", "'1970-01-01'", "'2024-02-29'", "'0001-01-01'", "'0001-12-31 BC'", "'0044-03-15 BC'",
                            "'4714-11-24 BC'", "'5874897-12-31'", "'10000-01-01'", "'infinity'", "'-infinity'"]
            let facts = ["since2000": "CASE WHEN isfinite(v) THEN v - '2000-01-01'::date END",
                         "since1970": "CASE WHEN isfinite(v) THEN v - '1970-01-01'::date END",
                         "positive": "v > '2000-01-01'"]
            for row in try oracle.rows(type: "date", literals: literals, facts: facts) {
                let value = try decode(row)
                guard case .date(let date) = value else {
                    Issue.record("\(row.literal) is not a date")
                    continue
                }
                switch date {
                case .days(let days):
                    #expect(String(days) == row.fact("since2000"), "\(row.literal)")
                    #expect(value.jsonFragment == row.fact("since1970"), "\(row.literal)")
                case .infinity: #expect(row.fact("since2000") == nil && row.fact("positive") == "true")
                case .minusInfinity: #expect(row.fact("since2000") == nil && row.fact("positive") == "false")
                }
            }
        }

        static let timestampLiterals = [
            "'2000-01-01 00:00:00'", "'1970-01-01 00:00:00'", "'2024-02-29 13:45:00.123456'", "'1999-12-31 23:59:59.999999'",
            "'1900-06-01 12:00:00.5'", "'0001-01-01 00:00:00'", "'0001-12-31 23:59:59 BC'", "'0044-03-15 12:00:00 BC'",
            "'4713-01-01 00:00:00 BC'", "'294276-12-31 23:59:59.999999'", "'10000-01-01 00:00:00.000001'", "'infinity'", "'-infinity'",
        ]

        /// Microseconds since 1970 from whole days and the time of day: `extract(epoch …)` itself
        /// rounds near the end of the range (294276 AD).
        static func epochFacts(_ local: String) -> [String: String] {
            ["micros": "CASE WHEN isfinite(v) THEN ((\(local))::date - '1970-01-01'::date)::numeric * 86400000000 + (extract(epoch from (\(local))::time) * 1000000)::numeric(20, 0) END",
             "positive": "v > '2000-01-01'"]
        }

        @Test func timestamps() throws {
            let oracle = try ValueOracle()
            for row in try oracle.rows(type: "timestamp", literals: Self.timestampLiterals, facts: Self.epochFacts("v")) {
                let value = try decode(row)
                guard case .timestamp(let timestamp) = value else {
                    Issue.record("\(row.literal) is not a timestamp")
                    continue
                }
                switch timestamp {
                case .microseconds:
                    #expect(timestamp.microsecondsSinceUnixEpoch?.description == row.fact("micros"), "\(row.literal)")
                    #expect(value.jsonFragment == row.fact("micros"), "\(row.literal)")
                case .infinity: #expect(row.fact("positive") == "true")
                case .minusInfinity: #expect(row.fact("positive") == "false")
                }
            }
        }

        /// The same instants printed in zones with half-hour, quarter-hour and historic
        /// seconds-precise offsets (local mean times before standard time).
        @Test(arguments: ["UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Europe/Amsterdam", "Africa/Monrovia",
                          "America/Los_Angeles", "Asia/Tokyo"])
        func timestamptzInAnySessionTimeZone(zone: String) throws {
            let oracle = try ValueOracle(timeZone: zone)
            let literals = Self.timestampLiterals.map { $0 == "'infinity'" || $0 == "'-infinity'" ? $0 : $0.dropLast() + "+00'" }
                + ["'1900-01-01 00:00:00+00'", "'1935-06-01 00:00:00+00'", "'1971-01-01 00:00:00+00'", "'2024-03-31 01:30:00+00'"]
            let facts = Self.epochFacts("v AT TIME ZONE 'UTC'")
            for row in try oracle.rows(type: "timestamptz", literals: literals, facts: facts) {
                let value = try decode(row)
                guard case .timestamptz(let timestamp) = value else {
                    Issue.record("\(row.literal) is not a timestamptz")
                    continue
                }
                switch timestamp {
                case .microseconds:
                    #expect(timestamp.microsecondsSinceUnixEpoch?.description == row.fact("micros"), "\(row.literal) in \(zone): \(row.text ?? "")")
                    // The ISO string, read back by Postgres (years it reads in ISO form), is the same instant.
                    let json = value.jsonFragment
                    if json.hasPrefix("\"1") || json.hasPrefix("\"2") {
                        #expect(try oracle.evaluate("\(try oracle.sql.quoteLiteral(String(json.dropFirst().dropLast())))::timestamptz = \(row.literal)::timestamptz") == "true", "\(json)")
                    }
                case .infinity: #expect(row.fact("positive") == "true")
                case .minusInfinity: #expect(row.fact("positive") == "false")
                }
            }
        }

        @Test func times() throws {
            let oracle = try ValueOracle()
            let literals = ["'00:00:00'", "'13:45:06.78'", "'23:59:59.999999'", "'24:00:00'", "'12:00:00.000001'"]
            for row in try oracle.rows(type: "time", literals: literals, facts: ["micros": "(extract(epoch from v) * 1000000)::numeric(20, 0)"]) {
                let value = try decode(row)
                guard case .time(let time) = value else {
                    Issue.record("\(row.literal) is not a time")
                    continue
                }
                #expect(String(time.microsecondsSinceMidnight) == row.fact("micros"), "\(row.literal)")
                #expect(value.jsonFragment == row.fact("micros"))
            }
            let literalsTZ = ["'13:45:06.000001-03:30:15'", "'00:00:00+14'", "'24:00:00-15:59'", "'12:00:00+05:30'", "'23:59:59.5+00'"]
            let factsTZ = ["local": "(extract(epoch from v::time) * 1000000)::numeric(20, 0)", "offset": "extract(timezone from v)",
                           "utc": "(extract(epoch from (v AT TIME ZONE 'UTC')::time) * 1000000)::numeric(20, 0)"]
            for row in try oracle.rows(type: "timetz", literals: literalsTZ, facts: factsTZ) {
                guard case .timetz(let time) = try decode(row) else {
                    Issue.record("\(row.literal) is not a timetz")
                    continue
                }
                #expect(String(time.microsecondsSinceMidnight) == row.fact("local"), "\(row.literal)")
                #expect(String(time.utcOffsetSeconds) == row.fact("offset"), "\(row.literal)")
                #expect(String(time.utcMicrosecondsSinceMidnight) == row.fact("utc"), "\(row.literal)")
            }
        }

        @Test func intervals() throws {
            let oracle = try ValueOracle()
            let literals = ["'1 year 2 mons 3 days 04:05:06.789'", "'-1 years -2 mons +3 days -04:05:06'", "'-1 days +2:03'", "'0'",
                            "'178000000 years'", "'-178000000 years'", "'1.5 months'", "'1 week'", "'@ 1 minute ago'",
                            "'2562047788:00:54.775807'", "'-2562047788:00:54.775807'::interval - '00:00:00.000001'", "'P1Y2M3DT4H5M6.5S'", "'36 hours'",
                            "'-0.000001 seconds'"]
            let micros = "(extract(hour from v) * 3600000000 + extract(minute from v) * 60000000 + extract(microseconds from v))"
            let months = "(extract(year from v) * 12 + extract(month from v))"
            let facts = ["months": months, "days": "extract(day from v)", "micros": micros,
                         // Debezium's MicroDuration: 365.25/12-day months, 24-hour days.
                         "debezium": "(\(months) * 30.4375 * 86400000000 + extract(day from v) * 86400000000 + \(micros))::numeric(40, 0)"]
            for row in try oracle.rows(type: "interval", literals: literals, facts: facts) {
                let value = try decode(row)
                guard case .interval(let interval) = value else {
                    Issue.record("\(row.literal) is not an interval")
                    continue
                }
                #expect(String(interval.months) == row.fact("months"), "\(row.literal)")
                #expect(String(interval.days) == row.fact("days"), "\(row.literal)")
                #expect(String(interval.microseconds) == row.fact("micros"), "\(row.literal)")
                #expect(value.jsonFragment == row.fact("debezium"), "\(row.literal)")
            }
        }

        @Test func booleans() throws {
            let oracle = try ValueOracle()
            for row in try oracle.rows(type: "bool", literals: ["true", "false", "'yes'", "'0'"], facts: ["word": "CASE WHEN v THEN 'yes' ELSE 'no' END"]) {
                #expect(try decode(row) == .bool(row.fact("word") == "yes"))
            }
        }
    }
}
