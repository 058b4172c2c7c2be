import Testing
@testable import Pipeline

/// Property: any edit of a valid file either loads or gives diagnostics that point into the
/// file; the loader never traps and never reports nothing.
@Suite struct LoaderRobustnessTests {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let alphabet = Array(" :-[]{},'\"#&*!|>%@`\n\tax1.${}_<") + ["é"]

    @Test(arguments: 0..<8)
    func randomEditsLoadOrPointIntoTheFile(seed: Int) {
        var random = SeededGenerator(state: UInt64(seed))
        let original = Array(Fixtures.full)
        for _ in 0..<60 {
            var text = original
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let position = Int.random(in: 0..<text.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: text.remove(at: position)
                case 1: text.insert(Self.alphabet.randomElement(using: &random)!, at: position)
                default: text[position] = Self.alphabet.randomElement(using: &random)!
                }
            }
            let yaml = String(text)
            let lineCount = yaml.split(separator: "\n", omittingEmptySubsequences: false).count
            do {
                _ = try PipelineFile.parse(yaml: yaml, environment: Fixtures.fullEnvironment)
            } catch {
                #expect(!error.diagnostics.isEmpty)
                for diagnostic in error.diagnostics {
                    #expect((1...lineCount + 1).contains(diagnostic.location.line), "\(diagnostic) in:\n\(yaml)")
                    #expect(diagnostic.location.column >= 1)
                }
                #expect(!error.description.isEmpty)
                #expect(!error.description.contains("correct-horse-battery"))
            }
        }
    }
}
