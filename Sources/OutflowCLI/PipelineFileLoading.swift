import ArgumentParser
import Pipeline

/// Exit status for an invalid configuration (sysexits' EX_CONFIG), as `vector validate` uses.
let invalidConfigurationExitCode = ExitCode(78)

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Loads a pipeline file for a command; on failure prints every diagnostic (to standard
/// error as text, or to standard output as JSON) and exits 78.
func loadPipeline(_ path: String, format: OutputFormat = .text) throws -> PipelineConfig {
    do {
        return try PipelineFile.load(path: path)
    } catch {
        switch format {
        case .text:
            var standardError = StandardError()
            print(error.description, terminator: "", to: &standardError)
        case .json:
            print(diagnosticsJSON(file: path, error.diagnostics).rendered())
        }
        throw invalidConfigurationExitCode
    }
}

func diagnosticsJSON(file: String, _ diagnostics: [PipelineDiagnostic]) -> JSONDocument {
    .object([
        ("file", .string(file)),
        ("valid", .bool(diagnostics.isEmpty)),
        ("errors", .array(diagnostics.map { diagnostic in
            var members: [(String, JSONDocument)] = [
                ("file", .string(diagnostic.location.file)),
                ("line", .int(diagnostic.location.line)),
                ("column", .int(diagnostic.location.column)),
                ("code", .string(diagnostic.code.rawValue)),
                ("message", .string(diagnostic.message)),
            ]
            if let hint = diagnostic.hint { members.append(("hint", .string(hint))) }
            return .object(members)
        })),
    ])
}
