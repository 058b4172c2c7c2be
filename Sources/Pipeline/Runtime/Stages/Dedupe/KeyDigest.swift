/// A dedupe key as 96 bits of SipHash-2-4-128 under the state's own random 128-bit secret:
/// what the exact dedupe stores instead of the key. Two different keys collide with
/// probability 2⁻⁹⁶ per pair; with n keys in the window a new key is taken for a duplicate
/// with probability about n / 2⁹⁶ (1.3 × 10⁻²¹ at n = 10⁸) — see docs/dedupe-state.md. The
/// secret is drawn when the state is created, so keys cannot be chosen to collide.
///
/// `high` is never 0: 0 marks an empty slot in the tables (the one value it replaces costs
/// nothing measurable).
package struct KeyDigest: Hashable, Sendable {
    var high: UInt64
    var low: UInt32

    init(high: UInt64, low: UInt32) {
        self.high = high == 0 ? 1 : high
        self.low = low
    }

    init(of key: some Collection<UInt8>, secret: DigestSecret) {
        let (first, second) = SipHash.hash128(key, k0: secret.k0, k1: secret.k1)
        self.init(high: first, low: UInt32(truncatingIfNeeded: second))
    }
}

/// The 128-bit SipHash key of one dedupe state.
package struct DigestSecret: Equatable, Sendable {
    var k0: UInt64
    var k1: UInt64

    package static func random() -> DigestSecret {
        var generator = SystemRandomNumberGenerator()
        return DigestSecret(k0: generator.next(), k1: generator.next())
    }
}

/// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed pseudorandom function, with the 64-bit
/// and the 128-bit outputs of the paper's reference description.
enum SipHash {
    struct State {
        var v0, v1, v2, v3: UInt64

        init(k0: UInt64, k1: UInt64, wide: Bool) {
            v0 = k0 ^ 0x736f_6d65_7073_6575
            v1 = k1 ^ 0x646f_7261_6e64_6f6d
            v2 = k0 ^ 0x6c79_6765_6e65_7261
            v3 = k1 ^ 0x7465_6462_7974_6573
            if wide { v1 ^= 0xee }
        }

        @inline(__always) mutating func round() {
            v0 = v0 &+ v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
            v2 = v2 &+ v3; v3 = v3.rotatedLeft(16); v3 ^= v2
            v0 = v0 &+ v3; v3 = v3.rotatedLeft(21); v3 ^= v0
            v2 = v2 &+ v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
        }

        @inline(__always) mutating func compress(_ word: UInt64) {
            v3 ^= word
            round(); round()
            v0 ^= word
        }

        @inline(__always) mutating func finalWord() -> UInt64 {
            round(); round(); round(); round()
            return v0 ^ v1 ^ v2 ^ v3
        }

        /// Every 8-byte word of `message`, then the last word with the length in its top byte.
        @inline(__always) mutating func absorb(_ message: some Collection<UInt8>) {
            var word: UInt64 = 0, shift: UInt64 = 0, count: UInt64 = 0
            for byte in message {
                word |= UInt64(byte) << shift
                shift += 8
                count += 1
                if shift == 64 {
                    compress(word)
                    word = 0
                    shift = 0
                }
            }
            compress(word | (count << 56))
        }
    }

    static func hash64(_ message: some Collection<UInt8>, k0: UInt64, k1: UInt64) -> UInt64 {
        var state = State(k0: k0, k1: k1, wide: false)
        state.absorb(message)
        state.v2 ^= 0xff
        return state.finalWord()
    }

    /// The two 64-bit halves of the 128-bit output, in output order (each little-endian).
    static func hash128(_ message: some Collection<UInt8>, k0: UInt64, k1: UInt64) -> (UInt64, UInt64) {
        var state = State(k0: k0, k1: k1, wide: true)
        state.absorb(message)
        state.v2 ^= 0xee
        let first = state.finalWord()
        state.v1 ^= 0xdd
        return (first, state.finalWord())
    }
}

extension UInt64 {
    @inline(__always) fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
