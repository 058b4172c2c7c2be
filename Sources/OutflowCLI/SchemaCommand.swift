import ArgumentParser
import Pipeline

struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Prints the JSON Schema of pipeline files.",
        discussion: """
            JSON Schema draft 2020-12, generated from the same descriptions validate checks \
            against. Save it and point editors at it: \
            # yaml-language-server: $schema=../docs/pipeline.schema.json
            """)

    func run() async throws {
        print(PipelineSchema.text, terminator: "")
    }
}
