/// The JSON Schema (draft 2020-12) of pipeline files, built from the same field specs the
/// loader decodes with, so editor completion and `validate` agree on every key.
public enum PipelineSchema {
    public static var document: JSONDocument {
        guard case .object(let members) = PipelineFields.spec.schema else { return PipelineFields.spec.schema }
        return .object([
            ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
            ("title", .string("Outflow pipeline file")),
        ] + members)
    }

    /// The schema as pretty-printed JSON text.
    public static var text: String { document.rendered() + "\n" }
}
