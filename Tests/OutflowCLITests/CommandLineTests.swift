import Testing
import Foundation

@Suite struct CommandLineTests {
    @Test func versionAndHelp() throws {
        let version = try OutflowProcess.run(["--version"])
        #expect(version.status == 0)
        #expect(version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)

        let help = try OutflowProcess.run(["--help"])
        #expect(help.status == 0)
        for command in ["run", "validate", "tail", "replay", "explain", "schema", "log", "check", "slots"] {
            #expect(help.standardOutput.contains("\n  \(command) "), "help lists \(command)")
        }
    }

    @Test func anUnknownCommandIsAUsageError() throws {
        let result = try OutflowProcess.run(["frobnicate"])
        #expect(result.status == 64 || result.status == 2)
        #expect(result.standardError.contains("frobnicate"))
    }

}
