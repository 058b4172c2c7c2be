import BinaryIO
import Foundation
import Logging
import PGOutput

/// Drops an event whose key was already seen within the window. The window is measured in
/// source commit time, not wall-clock time, so a replay or a restart decides exactly as the
/// first run did. Its state commits atomically with the output in exactly-once mode.
///
/// `exact` (`ExactDedupeState`): a 96-bit digest of every key, the newest in memory, older
/// ones in files beside the log; each commit record names the files (and carries the keys of
/// a small commit), so memory and the commit record stay small whatever the window or the
/// transaction. Keys of the open log transaction are in the state already; an abort goes back
/// to the files of the last commit.
///
/// `bloom`: keys of the open log transaction are held apart (`pending`) and join the filters
/// only when the transaction commits (a Bloom filter cannot delete); each commit record carries
/// the keys it added, and a start replays the retained ones.
public final class DedupeStage: StatefulStage {
    public let id: String
    public let key: EventExpression
    public let windowMilliseconds: Int64
    let exactSettings: ExactDedupeState.Settings?
    let logger: Logger
    private var exact: ExactDedupeState?
    /// A directory of the stage's own, when it was given none: removed with the stage.
    private var temporaryDirectory: String?
    private var bloom: BloomDedupeMemory?
    private var pending: [String: Int64] = [:]
    private var pendingOrder: [(key: String, time: Int64)] = []
    public private(set) var duplicatesDropped = 0

    public init(
        id: String, key: EventExpression, windowMilliseconds: Int64, maximumEntries: Int? = nil,
        logger: Logger = Logger(label: "outflow.dedupe")
    ) {
        self.id = id
        self.key = key
        self.windowMilliseconds = windowMilliseconds
        self.logger = logger
        exactSettings = ExactDedupeState.Settings(windowMilliseconds: windowMilliseconds, maxEntries: maximumEntries)
    }

    public init(id: String, config: DedupeStageConfig, logger: Logger = Logger(label: "outflow.dedupe")) {
        self.id = id
        self.key = config.key
        self.windowMilliseconds = config.window.milliseconds
        self.logger = logger
        switch config.mode {
        case .exact:
            exactSettings = ExactDedupeState.Settings(
                windowMilliseconds: config.window.milliseconds, memoryBytes: Int(config.memory.bytes), maxDiskBytes: config.maxDisk.bytes,
                maxEntries: config.maxEntries, onFull: config.onFull)
        case .bloom:
            exactSettings = nil
            bloom = BloomDedupeMemory(
                windowMilliseconds: config.window.milliseconds, expectedEntries: config.maxEntries ?? DedupeStageConfig.defaultBloomEntries,
                falsePositiveRate: config.falsePositiveRate ?? DedupeStageConfig.defaultFalsePositiveRate)
        }
    }

    deinit {
        exact = nil
        if let temporaryDirectory { try? FileManager.default.removeItem(atPath: temporaryDirectory) }
    }

    /// Keys remembered (bloom: committed; exact: those of the open transaction too).
    public var entryCount: Int { exact?.count ?? bloom?.count ?? 0 }
    /// Keys an exact dedupe forgot before their window ended, because a bound was reached.
    public var forgottenKeys: Int { exact?.forgottenKeys ?? 0 }
    /// What the state takes in memory (the table of the newest keys and the older buckets' filters).
    public var stateMemoryBytes: Int? { exact?.memoryBytes }
    /// What the state takes on disk.
    public var stateDiskBytes: Int64? { exact?.diskBytes }

    public func openState(directory: String?, committed changes: [[UInt8]]?) throws(StageFailure) {
        if exactSettings == nil {
            for bytes in changes ?? [] { try restoreBloom(from: bytes) }
            return
        }
        try openExact(directory: directory, committed: changes)
    }

    private func openExact(directory: String?, committed changes: [[UInt8]]?) throws(StageFailure) {
        guard let exactSettings else { return }
        var path = directory
        if path == nil {
            if temporaryDirectory == nil {
                temporaryDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("outflow-dedupe-\(UUID().uuidString)").path
            }
            path = temporaryDirectory
        }
        do {
            exact = try ExactDedupeState.open(settings: exactSettings, directory: path!, committed: changes, logger: logger)
        } catch {
            throw StageFailure(stageID: id, message: "its saved state cannot be opened: \(error)", stopsPipeline: true)
        }
    }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        let value: EventValue
        do { value = try key.evaluate(on: event) } catch { throw StageFailure(stageID: id, message: "the key expression failed: \(error)") }
        if value.isNull {
            emit(event, nil)  // no key: nothing to compare
            return
        }
        let text = value.plainText
        let time = event.origin.commitTime.unixMicroseconds / 1000
        if exactSettings != nil {
            if exact == nil { try openExact(directory: nil, committed: nil) }
            let state = exact!
            let duplicate: Bool
            do { duplicate = try state.check(state.digest(of: text.utf8), at: time) } catch {
                throw StageFailure(stageID: id, message: "\(error)", stopsPipeline: true)
            }
            if duplicate {
                duplicatesDropped += 1
                return
            }
            emit(event, nil)
            return
        }
        if let seen = pending[text], seen >= time - windowMilliseconds {
            duplicatesDropped += 1
            return
        }
        if bloom!.contains(text, at: time) {
            duplicatesDropped += 1
            return
        }
        pending[text] = time
        pendingOrder.append((text, time))
        emit(event, nil)
    }

    public func pendingChanges() throws(StageFailure) -> [UInt8]? {
        if let exact {
            do { return try exact.pendingChanges() } catch {
                throw StageFailure(stageID: id, message: "saving its state failed: \(error)", stopsPipeline: true)
            }
        }
        guard !pendingOrder.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.appendInteger(UInt32(pendingOrder.count))
        for (key, time) in pendingOrder {
            bytes.appendInteger(time)
            bytes.appendLengthPrefixed(key.utf8, lengthAs: UInt32.self)
        }
        return bytes
    }

    public func didCommit(recorded: Bool) {
        if let exact {
            exact.didCommit(recorded: recorded)
            return
        }
        for (key, time) in pendingOrder { bloom?.insert(key, at: time) }
        pending.removeAll(keepingCapacity: true)
        pendingOrder.removeAll(keepingCapacity: true)
    }

    public func didAbort() throws(StageFailure) {
        if let exact {
            do { try exact.didAbort() } catch {
                throw StageFailure(stageID: id, message: "going back to its committed state failed: \(error)", stopsPipeline: true)
            }
            return
        }
        pending.removeAll(keepingCapacity: true)
        pendingOrder.removeAll(keepingCapacity: true)
    }

    /// A bloom stage's commit-record part: the keys that commit added.
    private func restoreBloom(from changes: [UInt8]) throws(StageFailure) {
        var reader = ByteReader<ByteReadError>(changes)
        do throws(ByteReadError) {
            let count = try reader.readInteger("key count", as: UInt32.self)
            for _ in 0..<count {
                let time = try reader.readInteger("time", as: Int64.self)
                bloom?.insert(String(decoding: try reader.readLengthPrefixed("key", lengthAs: UInt32.self), as: UTF8.self), at: time)
            }
            try reader.expectEnd()
        } catch {
            throw StageFailure(stageID: id, message: "its saved state is damaged: \(error)", stopsPipeline: true)
        }
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
struct BloomDedupeMemory {
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
