import BinaryIO
import Foundation
import PGOutput

/// Drops an event whose key was already seen within the window. The window is measured in
/// source commit time, not wall-clock time, so a replay or a restart decides exactly as the
/// first run did. Its state commits atomically with the output in exactly-once mode: the keys
/// added since the last commit travel in the commit record and are restored from there.
///
/// Keys of the open log transaction are held apart (`pending`) and join the remembered set
/// only when the transaction commits, so an abort simply forgets them — which also lets the
/// Bloom-filter memory, which cannot delete, roll back.
public final class DedupeStage: StatefulStage {
    public let id: String
    public let key: EventExpression
    public let windowMilliseconds: Int64
    private var memory: any DedupeMemory
    private var pending: [String: Int64] = [:]
    private var pendingOrder: [(key: String, time: Int64)] = []
    public private(set) var duplicatesDropped = 0

    public init(id: String, key: EventExpression, windowMilliseconds: Int64, maximumEntries: Int = 10_000_000) {
        self.id = id
        self.key = key
        self.windowMilliseconds = windowMilliseconds
        self.memory = ExactDedupeMemory(windowMilliseconds: windowMilliseconds, maximumEntries: maximumEntries)
    }

    public init(id: String, config: DedupeStageConfig) {
        self.id = id
        self.key = config.key
        self.windowMilliseconds = config.window.milliseconds
        switch config.mode {
        case .exact:
            memory = ExactDedupeMemory(windowMilliseconds: config.window.milliseconds, maximumEntries: config.maxEntries)
        case .bloom:
            memory = BloomDedupeMemory(
                windowMilliseconds: config.window.milliseconds, expectedEntries: config.maxEntries,
                falsePositiveRate: config.falsePositiveRate ?? 0.001)
        }
    }

    /// Keys remembered (committed).
    public var entryCount: Int { memory.count }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        let value: EventValue
        do { value = try key.evaluate(on: event) } catch { throw StageFailure(stageID: id, message: "the key expression failed: \(error)") }
        if value.isNull {
            emit(event, nil)  // no key: nothing to compare
            return
        }
        let text = value.plainText
        let time = event.origin.commitTime.unixMicroseconds / 1000
        if let seen = pending[text], seen >= time - windowMilliseconds {
            duplicatesDropped += 1
            return
        }
        if memory.contains(text, at: time) {
            duplicatesDropped += 1
            return
        }
        pending[text] = time
        pendingOrder.append((text, time))
        emit(event, nil)
    }

    public func pendingChanges() -> [UInt8]? {
        guard !pendingOrder.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.appendInteger(UInt32(pendingOrder.count))
        for (key, time) in pendingOrder {
            bytes.appendInteger(time)
            bytes.appendLengthPrefixed(key.utf8, lengthAs: UInt32.self)
        }
        return bytes
    }

    public func didCommit() {
        for (key, time) in pendingOrder { memory.insert(key, at: time) }
        pending.removeAll(keepingCapacity: true)
        pendingOrder.removeAll(keepingCapacity: true)
    }

    public func didAbort() {
        pending.removeAll(keepingCapacity: true)
        pendingOrder.removeAll(keepingCapacity: true)
    }

    public func restore(from changes: [UInt8]) throws(StageFailure) {
        var reader = ByteReader<ByteReadError>(changes)
        do throws(ByteReadError) {
            let count = try reader.readInteger("key count", as: UInt32.self)
            for _ in 0..<count {
                let time = try reader.readInteger("time", as: Int64.self)
                memory.insert(String(decoding: try reader.readLengthPrefixed("key", lengthAs: UInt32.self), as: UTF8.self), at: time)
            }
            try reader.expectEnd()
        } catch {
            throw StageFailure(stageID: id, message: "its saved state is damaged: \(error)")
        }
    }
}

/// The committed keys of a dedupe stage.
protocol DedupeMemory {
    var count: Int { get }
    /// Whether `key` was inserted within the window before `time` (ms); forgets what expired.
    mutating func contains(_ key: String, at time: Int64) -> Bool
    mutating func insert(_ key: String, at time: Int64)
}

/// Every key, with the time it was first seen: no false positives; memory grows with the
/// number of keys in the window, bounded by `maximumEntries` (the oldest go first).
struct ExactDedupeMemory: DedupeMemory {
    let windowMilliseconds: Int64
    let maximumEntries: Int
    private var seen: [String: Int64] = [:]
    /// Keys in insertion order, for expiry; `head` is the oldest live entry.
    private var order: [(key: String, time: Int64)] = []
    private var head = 0

    init(windowMilliseconds: Int64, maximumEntries: Int) {
        self.windowMilliseconds = windowMilliseconds
        self.maximumEntries = maximumEntries
    }

    var count: Int { seen.count }

    mutating func contains(_ key: String, at time: Int64) -> Bool {
        while head < order.count, order[head].time < time - windowMilliseconds { evictOldest() }
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return seen[key] != nil
    }

    mutating func insert(_ key: String, at time: Int64) {
        guard seen[key] == nil else { return }
        seen[key] = time
        order.append((key, time))
        while seen.count > maximumEntries { evictOldest() }
    }

    private mutating func evictOldest() {
        guard head < order.count else { return }
        let oldest = order[head]
        head += 1
        if seen[oldest.key] == oldest.time { seen[oldest.key] = nil }
    }
}

/// Bloom filters in time slices: fixed memory whatever the number of keys, at the price of a
/// stated false-positive rate (a new event taken for a duplicate and dropped).
///
/// The window is cut into `slices` slices of one filter each; a key is looked up in every
/// live slice and inserted into the slice of its time; a slice is dropped whole once it is
/// older than the window. A key is therefore remembered for at least the window and at most
/// one slice longer. Each filter is sized for `expectedEntries` keys at
/// `falsePositiveRate / (slices + 1)`, so a lookup across all live slices stays within the
/// stated rate.
struct BloomDedupeMemory: DedupeMemory {
    static let slices = 4
    let sliceMilliseconds: Int64
    let bitsPerFilter: Int
    let hashCount: Int
    private var filters: [Int64: [UInt64]] = [:]
    private(set) var count = 0

    init(windowMilliseconds: Int64, expectedEntries: Int, falsePositiveRate: Double) {
        sliceMilliseconds = max(1, windowMilliseconds / Int64(Self.slices))
        let perLookup = min(max(falsePositiveRate, 1e-12), 0.5) / Double(Self.slices + 1)
        let n = Double(max(expectedEntries, 1))
        let bits = (-n * log(perLookup) / (M_LN2 * M_LN2)).rounded(.up)
        bitsPerFilter = max(64, Int(bits))
        hashCount = max(1, Int((Double(bitsPerFilter) / n * M_LN2).rounded()))
    }

    private func positions(_ key: String) -> [Int] {
        // Double hashing (Kirsch–Mitzenmacher) from two independently seeded hashes.
        var first = Hasher(), second = Hasher()
        first.combine(0x6F75_7466 as UInt32)
        second.combine(0x6C6F_7721 as UInt32)
        first.combine(key)
        second.combine(key)
        let a = UInt64(bitPattern: Int64(first.finalize())), b = UInt64(bitPattern: Int64(second.finalize())) | 1
        return (0..<hashCount).map { Int((a &+ UInt64($0) &* b) % UInt64(bitsPerFilter)) }
    }

    mutating func contains(_ key: String, at time: Int64) -> Bool {
        let current = time.floorDivided(by: sliceMilliseconds)
        for slice in filters.keys where slice < current - Int64(Self.slices) { filters[slice] = nil }
        let bits = positions(key)
        return filters.values.contains { filter in bits.allSatisfy { filter[$0 >> 6] & (1 << UInt64($0 & 63)) != 0 } }
    }

    mutating func insert(_ key: String, at time: Int64) {
        let slice = time.floorDivided(by: sliceMilliseconds)
        let words = (bitsPerFilter + 63) / 64
        // In place: copying a filter per insert would cost its whole size.
        for bit in positions(key) { filters[slice, default: [UInt64](repeating: 0, count: words)][bit >> 6] |= 1 << UInt64(bit & 63) }
        count += 1
    }
}

extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
