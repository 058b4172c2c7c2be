import Testing
import Foundation

@Suite struct PostgresCommandTests {
    @Test func checkSaysTheSandboxIsReady() throws {
        let result = try OutflowProcess.run(["check", "--url", try testDatabaseURL()])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("wal_level: logical"))
        #expect(result.standardOutput.contains("ready for logical replication"))
        #expect(!result.standardOutput.contains("password=") && !result.standardOutput.contains(":outflow@"))
    }

    @Test func checkTakesTheURLFromTheEnvironmentAndNeverPrintsThePassword() throws {
        let url = try testDatabaseURL()
        let secret = "wrong-\(UInt32.random(in: 0...UInt32.max))"
        let withWrongPassword = url.replacingOccurrences(of: ":outflow@", with: ":\(secret)@")
        #expect(withWrongPassword != url)
        let result = try OutflowProcess.run(["check"], environment: ["OUTFLOW_PG_URL": withWrongPassword])
        #expect(result.status == 1)
        #expect(result.standardError.contains("password authentication failed"))
        #expect(!result.standardError.contains(secret) && !result.standardOutput.contains(secret))
    }

    @Test func slotsCreateReusesAndDrops() throws {
        let url = try testDatabaseURL()
        let suffix = UInt32.random(in: 0...UInt32.max)
        let table = "cli_outbox_\(suffix)", slot = "cli_slot_\(suffix)", publication = "cli_pub_\(suffix)"
        let psql = try #require(OutflowProcess.which("psql"), "psql is needed (scripts/bootstrap installs it)")
        let created = try OutflowProcess.run(executable: psql, ["-X", "-q", url, "-c", "CREATE TABLE \(table) (id int PRIMARY KEY, payload jsonb)"])
        #expect(created.status == 0, "\(created.standardError)")

        let first = try OutflowProcess.run(["slots", "create", slot, "--url", url, "--publication", publication, "--table", "public.\(table)"])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardOutput.contains("publication \(publication): created"))
        #expect(first.standardOutput.contains("slot \(slot): created"))

        let again = try OutflowProcess.run(["slots", "create", slot, "--url", url, "--publication", publication, "--table", "public.\(table)"])
        #expect(again.status == 0)
        #expect(again.standardOutput.contains("publication \(publication): reused"))
        #expect(again.standardOutput.contains("slot \(slot): reused"))

        let published = try OutflowProcess.run(executable: psql, ["-X", "-At", url, "-c", "SELECT pubinsert, pubupdate, pubdelete FROM pg_publication WHERE pubname = '\(publication)'"])
        #expect(published.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "t|f|f")

        let list = try OutflowProcess.run(["slots", "list", "--url", url])
        #expect(list.standardOutput.contains(slot))

        let dropped = try OutflowProcess.run(["slots", "drop", slot, "--url", url])
        #expect(dropped.status == 0)
        let droppedAgain = try OutflowProcess.run(["slots", "drop", slot, "--url", url])
        #expect(droppedAgain.status == 1)
        #expect(droppedAgain.standardError.contains("does not exist"))
        _ = try OutflowProcess.run(executable: psql, ["-X", "-q", url, "-c", "DROP PUBLICATION \(publication); DROP TABLE \(table)"])
    }
}
