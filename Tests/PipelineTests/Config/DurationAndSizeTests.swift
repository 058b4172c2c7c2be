import Testing
@testable import Pipeline

@Suite struct DurationAndSizeTests {
    @Test(arguments: [("500ms", 500), ("10s", 10_000), ("1m", 60_000), ("24h", 86_400_000), ("7d", 604_800_000), ("1h30m", 5_400_000), ("0s", 0)] as [(String, Int64)])
    func durations(text: String, milliseconds: Int64) {
        #expect(ConfigDuration(text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "10", "24 h", "1.5h", "h", "10y", "-1s", "99999999999999999999d", "9999999999999999d"])
    func notDurations(text: String) {
        #expect(ConfigDuration(text) == nil)
    }

    @Test(arguments: [("1024", 1024), ("512B", 512), ("1KB", 1000), ("64MiB", 67_108_864), ("1GB", 1_000_000_000), ("2GiB", 2_147_483_648)] as [(String, Int64)])
    func sizes(text: String, bytes: Int64) {
        #expect(ByteSize(text)?.bytes == bytes)
    }

    @Test(arguments: ["", "64 MiB", "64mb", "1.5GB", "MiB", "-1", "99999999999TiB"])
    func notSizes(text: String) {
        #expect(ByteSize(text) == nil)
    }

    @Test(arguments: [("windw", "window"), ("partitons", "partitions"), ("compresion", "compression"), ("retention", "retention")])
    func suggestionsFindTypos(typo: String, intended: String) {
        #expect(Suggestions.closest(to: typo, among: ["window", "partitions", "compression", "retention", "dir"]) == intended)
    }

    @Test func suggestionsStayQuietForUnrelatedWords() {
        #expect(Suggestions.closest(to: "frobnicate", among: ["window", "partitions", "dir"]) == nil)
    }
}
