import Testing
import PostgresSource

extension Values {
    /// Whatever bytes arrive, decoding returns a value or an `invalidValue` error: it never
    /// traps, loops or fails some other way.
    @Suite struct MalformedInputTests {
        static let samples: [(UInt32, String)] = [
            (BuiltinTypeOID.int8, "-9223372036854775808"), (BuiltinTypeOID.numeric, "-123.4500"),
            (BuiltinTypeOID.float8, "-1.7976931348623157e+308"), (BuiltinTypeOID.float4, "3.4028235e+38"),
            (BuiltinTypeOID.uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), (BuiltinTypeOID.bytea, "\\x00ff7f"),
            (BuiltinTypeOID.bytea, "a\\\\b\\001"), (BuiltinTypeOID.date, "0044-03-15 BC"),
            (BuiltinTypeOID.timestamp, "294276-12-31 23:59:59.999999"), (BuiltinTypeOID.timestamptz, "1900-01-01 00:19:32+00:19:32 BC"),
            (BuiltinTypeOID.time, "24:00:00"), (BuiltinTypeOID.timetz, "13:45:06.000001-03:30:15"),
            (BuiltinTypeOID.interval, "-178000000 years -2 mons +3 days -2562047788:00:54.775807"),
            (1007, "[-2:-1][3:4]={{1,2},{3,NULL}}"), (1009, #"{"a\"b",NULL,"c\\d", e f ,"{}"}"#),
            (1185, #"{"2024-02-29 13:45:00.5+05:30",infinity}"#), (1020, "{(1,1),(0,0);(2,2),(1,1)}"),
            (1231, "{{1.5,NaN},{-Infinity,0}}"), (3807, #"{"{\"a\": [1, 2]}",null}"#),
        ]

        static func outcomeIsValueOrInvalidValue(_ bytes: [UInt8], _ oid: UInt32) -> Bool {
            do {
                _ = try PGValueDecoder().decode(text: bytes, typeOID: oid)
                return true
            } catch {
                return error.code == .invalidValue
            }
        }

        @Test(arguments: samples)
        func everyPrefixAndSuffix(oid: UInt32, text: String) {
            let bytes = Array(text.utf8)
            #expect(Self.outcomeIsValueOrInvalidValue(bytes, oid))
            for cut in 0..<bytes.count {
                #expect(Self.outcomeIsValueOrInvalidValue(Array(bytes[..<cut]), oid), "prefix \(cut)")
                #expect(Self.outcomeIsValueOrInvalidValue(Array(bytes[cut...]), oid), "suffix \(cut)")
            }
        }

        @Test(arguments: samples)
        func randomByteSubstitutions(oid: UInt32, text: String) {
            let interesting = Array("{}[]:=,;\"\\ -+.0919eENaInfty\u{7F}".utf8) + [0, 0x80, 0xC3, 0xFF]
            var random = SplitMix64(seed: UInt64(oid) &* 0x9E37_79B9 &+ UInt64(text.utf8.count))
            let original = Array(text.utf8)
            for _ in 0..<2000 {
                var bytes = original
                for _ in 0...(random.next() % 3) {
                    let position = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 3 {
                    case 0: bytes[position] = interesting[Int(random.next() % UInt64(interesting.count))]
                    case 1: bytes.insert(interesting[Int(random.next() % UInt64(interesting.count))], at: position)
                    default: if bytes.count > 1 { bytes.remove(at: position) }
                    }
                }
                #expect(Self.outcomeIsValueOrInvalidValue(bytes, oid), "\(bytes)")
            }
        }
    }
}

/// A small deterministic generator, so a failure here repeats.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
