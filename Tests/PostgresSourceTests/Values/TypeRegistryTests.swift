import Testing
import PostgresSource

extension Values {
    @Suite struct TypeRegistryTests {
        /// A registry like the one the source builds: an enum, its array, a domain over int8, a
        /// domain over that domain, a domain over numeric[], an extension base type.
        var registry: PGTypeRegistry {
            var registry = PGTypeRegistry()
            registry[16_400] = .init(name: "mood", kind: .enumeration)
            registry[16_399] = .init(name: "_mood", kind: .array(elementOID: 16_400))
            registry[16_410] = .init(name: "positive_id", kind: .domain(baseOID: BuiltinTypeOID.int8))
            registry[16_411] = .init(name: "small_positive_id", kind: .domain(baseOID: 16_410))
            registry[16_412] = .init(name: "_small_positive_id", kind: .array(elementOID: 16_411))
            registry[16_420] = .init(name: "prices", kind: .domain(baseOID: 1231))
            registry[16_430] = .init(name: "citext", kind: .base)
            return registry
        }

        @Test func enumsAreTheirLabels() throws {
            #expect(try decodeValue("happy", 16_400, registry: registry) == .text("happy"))
            let array = try #require(try decodeValue(#"{happy,"so so",NULL}"#, 16_399, registry: registry).arrayValue)
            #expect(array.elementTypeOID == 16_400)
            #expect(array.elements == [.text("happy"), .text("so so"), .null])
        }

        @Test func domainsDecodeAsTheirBaseType() throws {
            #expect(try decodeValue("42", 16_410, registry: registry) == .int(42))
            #expect(try decodeValue("42", 16_411, registry: registry) == .int(42))
            let ids = try #require(try decodeValue("{1,2}", 16_412, registry: registry).arrayValue)
            #expect(ids.elements == [.int(1), .int(2)])
            let prices = try #require(try decodeValue("{1.50,2}", 16_420, registry: registry).arrayValue)
            #expect(prices.elements == [.numeric(try #require(PGNumeric("1.50"))), .numeric(try #require(PGNumeric("2")))])
        }

        @Test func domainErrorsNameTheDomain() throws {
            let error = try #require(decodingError("forty-two", 16_411, registry: registry))
            #expect(error.code == .invalidValue)
            #expect(error.message.contains("small_positive_id"))
        }

        @Test func unknownTypesAreText() throws {
            #expect(try decodeValue("Hello", 16_430, registry: registry) == .text("Hello"))
            #expect(try decodeValue("(1,2)", 99_999) == .text("(1,2)"))
            #expect(PGValueDecoder().typeName(of: 99_999) == "type 99999")
            #expect(PGValueDecoder(registry: registry).typeName(of: 16_430) == "citext")
        }

        @Test func aDomainCycleEndsAsTextInsteadOfLooping() throws {
            var cyclic = PGTypeRegistry()
            cyclic[20_000] = .init(name: "a", kind: .domain(baseOID: 20_001))
            cyclic[20_001] = .init(name: "b", kind: .domain(baseOID: 20_000))
            #expect(try decodeValue("x", 20_000, registry: cyclic) == .text("x"))
        }

        @Test func pgTypeRowsMapToKinds() {
            typealias Info = PGTypeRegistry.TypeInfo
            #expect(Info(name: "d", typtype: "d", typcategory: "N", baseTypeOID: 20, elementTypeOID: 0).kind == .domain(baseOID: 20))
            #expect(Info(name: "e", typtype: "e", typcategory: "E", baseTypeOID: 0, elementTypeOID: 0).kind == .enumeration)
            #expect(Info(name: "_e", typtype: "b", typcategory: "A", baseTypeOID: 0, elementTypeOID: 5).kind == .array(elementOID: 5))
            #expect(Info(name: "citext", typtype: "b", typcategory: "S", baseTypeOID: 0, elementTypeOID: 0).kind == .base)
            #expect(Info(name: "point", typtype: "b", typcategory: "G", baseTypeOID: 0, elementTypeOID: 701).kind == .base)
            #expect(Info(name: "r", typtype: "r", typcategory: "R", baseTypeOID: 0, elementTypeOID: 0).kind == .other)
            #expect(Info(name: "c", typtype: "c", typcategory: "C", baseTypeOID: 0, elementTypeOID: 0).kind == .other)
        }

        @Test func builtinOIDsAreFixed() {
            #expect(BuiltinTypeOID.name(of: 1007) == "_int4")
            #expect(BuiltinTypeOID.elementType(ofArray: 1007) == BuiltinTypeOID.int4)
            #expect(BuiltinTypeOID.elementType(ofArray: BuiltinTypeOID.int4) == nil)
            #expect(BuiltinTypeOID.name(of: 16_384) == nil)
            // Built-in OIDs win over a registry entry claiming the same OID.
            var registry = PGTypeRegistry()
            registry[BuiltinTypeOID.int4] = .init(name: "impostor", kind: .base)
            #expect(throws: PostgresError.self) { try decodeValue("x", BuiltinTypeOID.int4, registry: registry) }
        }
    }
}

extension Values.TypeRegistryTests {
    @Test func arraysOfDomainsOverArraysNestTheirElements() throws {
        var registry = PGTypeRegistry()
        registry[16_500] = .init(name: "int_list", kind: .domain(baseOID: 1007))
        registry[16_501] = .init(name: "_int_list", kind: .array(elementOID: 16_500))
        let outer = try #require(try decodeValue(#"{"{1,2}",NULL,"{}"}"#, 16_501, registry: registry).arrayValue)
        #expect(outer.elementTypeOID == 16_500)
        #expect(outer.elements.count == 3)
        #expect(outer.elements[0].arrayValue?.elements == [.int(1), .int(2)])
        #expect(outer.elements[1] == .null)
        #expect(outer.elements[2].arrayValue?.dimensions == [])
        #expect(PGValue.array(outer).jsonFragment == "[[1,2],null,[]]")
    }

    @Test func aCyclicRegistryCannotNestArraysWithoutEnd() throws {
        // An array whose element is a domain over the array itself: Postgres forbids it, a
        // caller's registry might not.
        var registry = PGTypeRegistry()
        registry[16_600] = .init(name: "loop", kind: .array(elementOID: 16_601))
        registry[16_601] = .init(name: "loop_domain", kind: .domain(baseOID: 16_600))
        func wrapped(_ times: Int) -> String {
            var text = "{1}"
            for _ in 0..<times { text = "{\"" + String(text.flatMap { $0 == "\\" || $0 == "\"" ? ["\\", $0] : [$0] }) + "\"}" }
            return text
        }
        // A few levels are followed down to the innermost `1`, which is no array …
        let shallow = try #require(decodingError(wrapped(2), 16_600, registry: registry))
        #expect(shallow.message.contains("expected {"))
        // … many are refused by the nesting limit.
        let error = try #require(decodingError(wrapped(10), 16_600, registry: registry))
        #expect(error.code == .invalidValue)
        #expect(error.message.contains("nested more than"))
    }
}
