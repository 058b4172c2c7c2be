import PGOutput
import Testing

/// Bytes from hex digits; spaces, newlines and underscores separate fields for readability.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    precondition(digits.count == text.filter { !" \n_".contains($0) }.count, "not hex: \(text)")
    precondition(digits.count % 2 == 0, "odd number of hex digits: \(text)")
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index != digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// A NUL-terminated string as pgoutput sends it.
func cstr(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }

/// Text bytes, for expected column values.
func utf8(_ text: String) -> ArraySlice<UInt8> { ArraySlice(text.utf8) }

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Decodes and expects an error, returning it for inspection.
func decodeError(_ bytes: [UInt8], context: PGOutputMessage.DecodingContext = .init(), sourceLocation: SourceLocation = #_sourceLocation) -> PGOutputError? {
    #expect(throws: PGOutputError.self, sourceLocation: sourceLocation) { try PGOutputMessage.decode(from: bytes, context: context) }
}

/// SplitMix64: a tiny seeded generator, so that every property test is reproducible from the
/// seed it prints on failure.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
