import Testing
import Foundation

/// The compose file is checked by Debian's docker-compose, which validates offline and
/// rejects unknown keys (no Docker engine is needed for `config`).
@Suite struct DockerComposeTests {
    @Test func composeFileIsValid() throws {
        let compose = try #require(OutflowProcess.which("docker-compose"), "docker-compose is needed (scripts/bootstrap installs it)")
        let result = try OutflowProcess.run(executable: compose, ["-f", "docker/docker-compose.yml", "config"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("wal_level=logical"))
        #expect(result.standardOutput.contains("outbox.yaml"))
        #expect(result.standardOutput.contains("dockerfile: docker/Dockerfile"))
    }

    @Test func composeValidationRejectsUnknownKeys() throws {
        // Proves the check above can fail: the same file with a misspelt key is refused.
        let compose = try #require(OutflowProcess.which("docker-compose"), "docker-compose is needed (scripts/bootstrap installs it)")
        let original = try String(contentsOf: OutflowProcess.sourceRoot.appendingPathComponent("docker/docker-compose.yml"), encoding: .utf8)
        let broken = original.replacingOccurrences(of: "stop_grace_period:", with: "stop_grace_periode:")
        #expect(broken != original)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("compose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("docker-compose.yml")
        try broken.write(to: file, atomically: true, encoding: .utf8)
        let result = try OutflowProcess.run(executable: compose, ["-f", file.path, "config"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("stop_grace_periode"))
    }
}
