import PGOutput

/// Drops an event whose key was already seen within the window. The window is measured in
/// source commit time, not wall-clock time, so a replay or a restart decides exactly as the
/// first run did. Its state commits atomically with the output in exactly-once mode: the keys
/// added since the last commit travel in the commit record and are restored from there.
public final class DedupeStage: StatefulStage {
    public let id: String
    public let key: EventExpression
    public let windowMilliseconds: Int64
    public let maximumEntries: Int

    /// Key → commit time (ms) it was first seen.
    private var seen: [String: Int64] = [:]
    /// Keys in the order they were added, for expiry; `head` is the oldest live entry.
    private var order: [(key: String, time: Int64)] = []
    private var head = 0
    /// Added since the last commit.
    private var pending: [(key: String, time: Int64)] = []
    public private(set) var duplicatesDropped = 0

    public init(id: String, key: EventExpression, windowMilliseconds: Int64, maximumEntries: Int = 10_000_000) {
        self.id = id
        self.key = key
        self.windowMilliseconds = windowMilliseconds
        self.maximumEntries = maximumEntries
    }

    public convenience init(id: String, config: DedupeStageConfig) {
        self.init(id: id, key: config.key, windowMilliseconds: config.window.milliseconds, maximumEntries: config.maxEntries)
    }

    public var entryCount: Int { seen.count }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        let value: EventValue
        do { value = try key.evaluate(on: event) } catch { throw StageFailure(stageID: id, message: "the key expression failed: \(error)") }
        if value.isNull {
            emit(event, nil)  // no key: nothing to compare
            return
        }
        let text = value.plainText
        let time = event.origin.commitTime.unixMicroseconds / 1000
        expire(before: time - windowMilliseconds)
        if seen[text] != nil {
            duplicatesDropped += 1
            return
        }
        add(text, time: time)
        pending.append((text, time))
        emit(event, nil)
    }

    private func add(_ key: String, time: Int64) {
        seen[key] = time
        order.append((key, time))
        while seen.count > maximumEntries { evictOldest() }
    }

    private func expire(before cutoff: Int64) {
        while head < order.count, order[head].time < cutoff { evictOldest() }
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    private func evictOldest() {
        guard head < order.count else { return }
        let oldest = order[head]
        head += 1
        if seen[oldest.key] == oldest.time { seen[oldest.key] = nil }
    }

    public func pendingChanges() -> [UInt8]? {
        guard !pending.isEmpty else { return nil }
        var writer = CheckpointWriter()
        writer.write(UInt32(pending.count))
        for (key, time) in pending {
            writer.write(UInt64(bitPattern: time))
            writer.write(Array(key.utf8))
        }
        return writer.bytes
    }

    public func didCommit() { pending.removeAll(keepingCapacity: true) }

    public func didAbort() {
        // The pending keys were the newest entries: take them off the end again.
        for (key, time) in pending.reversed() {
            if seen[key] == time { seen[key] = nil }
            if order.count > head, order[order.count - 1].key == key { order.removeLast() }
        }
        pending.removeAll(keepingCapacity: true)
    }

    public func restore(from changes: [UInt8]) throws(StageFailure) {
        var reader = CheckpointReader(changes)
        do {
            let count = try reader.readUInt32()
            for _ in 0..<count {
                let time = Int64(bitPattern: try reader.readUInt64())
                let key = String(decoding: try reader.readBytes(), as: UTF8.self)
                if seen[key] == nil { add(key, time: time) }
            }
        } catch {
            throw StageFailure(stageID: id, message: "its saved state is damaged: \(error)")
        }
    }
}
