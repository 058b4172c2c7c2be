import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One log, the guarantee changed between runs: every switch (exactly_once ⇄ at_least_once ⇄
/// at_most_once, each way) resumes where the previous mode left off — rows written while the
/// pipeline ran and while it was stopped all arrive, none twice.
@Suite struct GuaranteeSwitchTests {
    @Test func everySwitchBetweenGuaranteesLosesNothingAndDuplicatesNothing() throws {
        let scenario = try RunCommandTests.Scenario()
        defer { scenario.cleanUp() }
        // Covers all six ordered pairs: eo→alo, alo→amo, amo→eo, eo→amo, amo→alo, alo→eo.
        let modes = ["exactly_once", "at_least_once", "at_most_once", "exactly_once", "at_most_once", "at_least_once", "exactly_once"]
        let original = try String(contentsOf: scenario.pipelineFile, encoding: .utf8)
        var expected: [String] = []
        func insert(_ keys: [String]) throws {
            expected += keys
            try scenario.psql("BEGIN; " + keys.map { "INSERT INTO \(scenario.table) VALUES (gen_random_uuid(), 'order', '\($0)', 'Created', '{}');" }.joined() + " COMMIT;")
        }
        for (run, mode) in modes.enumerated() {
            try original.replacingOccurrences(of: "guarantee: exactly_once", with: "guarantee: \(mode)")
                .write(to: scenario.pipelineFile, atomically: true, encoding: .utf8)
            // Written while the pipeline is stopped: the new mode must pick it up (not before
            // the first run, which creates the slot: the slot's history starts there).
            if run > 0 { try insert(["stopped-\(run)-a", "stopped-\(run)-b"]) }
            let (process, errors) = try scenario.start()
            try insert((0..<3).map { "running-\(run)-\($0)" })
            let deadline = ContinuousClock.now.advanced(by: .seconds(30))
            while try scenario.committedKeys().count < expected.count, ContinuousClock.now < deadline { usleep(50_000) }  // bounded poll of the log
            process.terminate()
            process.waitUntilExit()
            let output = try String(contentsOf: errors, encoding: .utf8)
            #expect(process.terminationStatus == 0, "run \(run) (\(mode)): \(output)")
            let keys = try scenario.committedKeys()
            #expect(keys.count == expected.count, "after run \(run) (\(mode)): \(keys.count) records for \(expected.count) rows")
            #expect(Set(keys) == Set(expected), "after run \(run) (\(mode)): missing \(Set(expected).subtracting(keys).sorted())")
        }
    }
}
