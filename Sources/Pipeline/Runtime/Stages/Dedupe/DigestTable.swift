/// One slot of the exact dedupe's tables and files: a key digest and the time (ms) it was first
/// seen, as an offset from its table's base time. 16 bytes, two little-endian words: the
/// digest's high 64 bits, then its low 32 bits beside the 32-bit time offset. A slot whose
/// first word is 0 is empty (`KeyDigest.high` is never 0).
struct DigestSlot: Hashable {
    var first: UInt64
    var second: UInt64

    static let size = 16

    init(first: UInt64, second: UInt64) {
        self.first = first
        self.second = second
    }

    init(_ digest: KeyDigest, offset: Int32) {
        first = digest.high
        second = UInt64(digest.low) | UInt64(UInt32(bitPattern: offset)) << 32
    }

    var digest: KeyDigest { KeyDigest(high: first, low: UInt32(truncatingIfNeeded: second)) }
    var offset: Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: second >> 32)) }
    var isEmpty: Bool { first == 0 }

    func matches(_ digest: KeyDigest) -> Bool { first == digest.high && UInt32(truncatingIfNeeded: second) == digest.low }

    /// Reads a slot stored at `pointer` (little-endian, any alignment).
    static func load(from pointer: UnsafeRawPointer) -> DigestSlot {
        DigestSlot(
            first: UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self)),
            second: UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }

    func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: first.littleEndian, as: UInt64.self)
        pointer.storeBytes(of: second.littleEndian, toByteOffset: 8, as: UInt64.self)
    }
}

/// The newest keys of an exact dedupe: an open-addressing hash set of digests with linear
/// probing in one block of raw memory — 16 bytes a slot, no object per key. Its capacity is a
/// power of two, kept at most three quarters full; the slots are the bytes a sealed bucket file
/// holds, so sealing is one write.
final class DigestTable {
    private(set) var capacity: Int
    private(set) var count = 0
    /// Times are stored as Int32 offsets (ms) from this.
    let baseTime: Int64
    private(set) var minTime = Int64.max
    private(set) var maxTime = Int64.min
    private var slots: UnsafeMutableRawPointer

    init(capacity: Int, baseTime: Int64) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "a table's capacity is a power of two")
        self.capacity = capacity
        self.baseTime = baseTime
        slots = AnonymousMemory.allocate(byteCount: capacity * DigestSlot.size)
    }

    deinit { AnonymousMemory.free(slots, byteCount: byteCount) }

    var byteCount: Int { capacity * DigestSlot.size }
    /// Whether one more key keeps the table at most three quarters full.
    var hasRoom: Bool { (count + 1) * 4 <= capacity * 3 }

    /// The offset of `time` from the base, when it fits in 32 bits (24 days either way).
    func offset(of time: Int64) -> Int32? { Int32(exactly: time - baseTime) }

    /// The time `digest` was seen (ms), when the table holds it.
    func time(of digest: KeyDigest) -> Int64? {
        let mask = capacity - 1
        var index = Int(truncatingIfNeeded: digest.high) & mask
        while true {
            let slot = DigestSlot.load(from: slots + index * DigestSlot.size)
            if slot.isEmpty { return nil }
            if slot.matches(digest) { return baseTime + Int64(slot.offset) }
            index = (index + 1) & mask
        }
    }

    /// Adds `digest` seen at `time`, or moves its time to `time` when it is there. The caller
    /// checks `offset(of:)` and `hasRoom` (or grows) first. True when the key is new.
    @discardableResult
    func set(_ digest: KeyDigest, offset: Int32) -> Bool {
        let mask = capacity - 1
        var index = Int(truncatingIfNeeded: digest.high) & mask
        let time = baseTime + Int64(offset)
        minTime = min(minTime, time)
        maxTime = max(maxTime, time)
        while true {
            let pointer = slots + index * DigestSlot.size
            let slot = DigestSlot.load(from: pointer)
            if slot.isEmpty {
                DigestSlot(digest, offset: offset).store(to: pointer)
                count += 1
                return true
            }
            if slot.matches(digest) {
                DigestSlot(digest, offset: offset).store(to: pointer)
                return false
            }
            index = (index + 1) & mask
        }
    }

    /// Doubles the capacity, placing every slot again.
    func grow() {
        let old = slots, oldCapacity = capacity
        capacity *= 2
        slots = AnonymousMemory.allocate(byteCount: capacity * DigestSlot.size)
        count = 0
        for index in 0..<oldCapacity {
            let slot = DigestSlot.load(from: old + index * DigestSlot.size)
            if !slot.isEmpty { set(slot.digest, offset: slot.offset) }
        }
        AnonymousMemory.free(old, byteCount: oldCapacity * DigestSlot.size)
    }

    /// Every key's digest, in slot order.
    func forEachDigest(_ body: (KeyDigest) -> Void) {
        for index in 0..<capacity {
            let slot = DigestSlot.load(from: slots + index * DigestSlot.size)
            if !slot.isEmpty { body(slot.digest) }
        }
    }

    /// The slots as stored (what a sealed bucket file holds).
    func withSlotBytes<Result>(_ body: (UnsafeRawBufferPointer) throws(DedupeStateError) -> Result) throws(DedupeStateError) -> Result {
        try body(UnsafeRawBufferPointer(start: slots, count: byteCount))
    }
}

/// A blocked Bloom filter over the digests of a sealed bucket, so that a lookup reads the
/// bucket's file only when the key may be there: 8 bits a key, 6 of them set in one 64-byte
/// line (one cache miss a lookup), about 2–3 % false positives — a false positive costs one
/// read of the file, never a wrong answer.
final class DigestFilter {
    static let bitsPerKey = 8
    private let lines: UInt64
    private let words: UnsafeMutablePointer<UInt64>

    init(expectedKeys: Int) {
        lines = UInt64(max(1, (expectedKeys * Self.bitsPerKey + 511) / 512))
        words = AnonymousMemory.allocate(byteCount: Int(lines) * 64).bindMemory(to: UInt64.self, capacity: Int(lines) * 8)
    }

    deinit { AnonymousMemory.free(UnsafeMutableRawPointer(words), byteCount: byteCount) }

    var byteCount: Int { Int(lines) * 64 }

    /// The line and the six bit positions in it: from a multiplicative mix of the digest's
    /// words (the digest is uniform already; the mix only spreads both words over the result).
    @inline(__always) private func probe(_ digest: KeyDigest, _ body: (Int, UInt64) -> Bool) -> Bool {
        let mixed = (digest.high ^ (UInt64(digest.low) << 29)) &* 0x9E37_79B9_7F4A_7C15
        let line = Int(((mixed >> 32) &* lines) >> 32)
        var bits = (mixed ^ (mixed >> 31)) &* 0xBF58_476D_1CE4_E5B9
        for _ in 0..<6 {
            let position = Int(bits & 511)
            bits >>= 9
            if !body(line * 8 + (position >> 6), 1 << UInt64(position & 63)) { return false }
        }
        return true
    }

    func insert(_ digest: KeyDigest) {
        _ = probe(digest) { word, bit in
            words[word] |= bit
            return true
        }
    }

    func mayContain(_ digest: KeyDigest) -> Bool {
        probe(digest) { word, bit in words[word] & bit != 0 }
    }
}
