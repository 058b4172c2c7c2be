import Foundation
import Testing
import Yams
@testable import Pipeline

/// The schema is generated from the specs the loader decodes with; these tests check the
/// two agree on real files.
@Suite struct SchemaTests {
    /// The schema that applies to a key path, following properties, items, oneOf and refs.
    static func schemas(at path: [String], in schema: JSONDocument) -> [JSONDocument] {
        var current = [schema]
        for key in path {
            var next: [JSONDocument] = []
            for candidate in current {
                for option in expand(candidate) {
                    if key == "[]", let items = option["items"] { next.append(items) }
                    if let properties = option["properties"], let property = properties[key] { next.append(property) }
                }
            }
            current = next
        }
        return current
    }

    static func expand(_ schema: JSONDocument) -> [JSONDocument] {
        if case .array(let options)? = schema["oneOf"] { return options.flatMap(expand) }
        return [schema]
    }

    /// Every key path of a YAML node, lists as `[]`.
    static func keyPaths(_ node: Node, prefix: [String] = []) -> [[String]] {
        switch node {
        case .mapping(let mapping):
            return mapping.flatMap { key, value -> [[String]] in
                let name = key.string ?? ""
                if name.hasPrefix("x-") { return [] }
                return [prefix + [name]] + keyPaths(value, prefix: prefix + [name])
            }
        case .sequence(let sequence):
            return sequence.flatMap { keyPaths($0, prefix: prefix + ["[]"]) }
        default:
            return []
        }
    }

    /// Keys under these hold user-chosen names (columns, field paths, values, outputs).
    static let freeFormParents: Set<String> = ["headers", "set", "rename", "topics", "outputs"]

    @Test func everyKeyOfTheFilesIsInTheSchema() throws {
        let schema = PipelineSchema.document
        for text in [Fixtures.full, try String(contentsOfFile: Fixtures.examplePath, encoding: .utf8)] {
            let root = try #require(try Yams.compose(yaml: text))
            for path in Self.keyPaths(root) where !(path.dropLast().last.map(Self.freeFormParents.contains) ?? false) {
                #expect(!Self.schemas(at: path, in: schema).isEmpty, "\(path.joined(separator: ".")) is not in the schema")
            }
        }
    }

    @Test func theSchemaListsTheSameKeysTheLoaderAccepts() throws {
        // Take each object's properties from the schema and check the loader knows them as
        // keys: a misspelling of each is rejected with the real key as the suggestion.
        let stageOptions = Self.schemas(at: ["stages", "[]"], in: PipelineSchema.document).flatMap(Self.expand)
            .filter { $0["enum"] == nil }
        #expect(stageOptions.count == StageType.allCases.count)
        let typeKeys = stageOptions.compactMap { option -> String? in
            guard case .array(let required)? = option["required"], case .string(let key)? = required.first else { return nil }
            return key
        }
        #expect(Set(typeKeys) == Set(StageType.allCases.map(\.rawValue)))

        let sinkKeys = Self.schemas(at: ["sink", "log"], in: PipelineSchema.document).first?["properties"]
        guard case .object(let members)? = sinkKeys else {
            Issue.record("sink.log has no properties")
            return
        }
        for (key, _) in members {
            let misspelt = key + "x"
            let text = "version: 1\nname: p\nsource: {postgres: {url: u, tables: [t]}}\nsink: {log: {dir: d, \(misspelt): 1}}\n"
            let diagnostics = Fixtures.diagnostics(text)
            #expect(diagnostics.contains { $0.code == .unknownKey && $0.hint == "did you mean '\(key)'?" }, "\(key): \(diagnostics)")
        }
    }

    @Test func theSchemaIsDraft2020AndValidJSON() throws {
        let text = PipelineSchema.text
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(parsed?["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect((parsed?["required"] as? [String]).map(Set.init) == ["version", "name", "source", "sink"])
        #expect(parsed?["additionalProperties"] as? Bool == false)
    }
}
