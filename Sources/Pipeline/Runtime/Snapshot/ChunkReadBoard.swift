import Foundation
import PostgresSource

/// The chunks being read, shared by the pipeline's thread (which assigns key ranges to reader
/// lanes and takes each chunk at its high watermark) and the lanes (which read their range
/// chunk after chunk). A lane reads its next chunk as soon as the previous one's rows are in,
/// without waiting for that chunk's watermarks to come back through the stream, but holds at
/// most `depth` chunks not yet taken: memory stays `lanes × depth × chunk size` rows.
///
/// A restart (`restart()`: a chunk must be read again, a group was dropped, a read failed)
/// forgets every chunk in flight; a lane still reading one of them finds it gone when it
/// delivers, and drops it.
///
/// All state is under `condition`'s lock, so the type is `Sendable` by hand.
final class ChunkReadBoard: @unchecked Sendable {
    /// What a lane reads: one key range of a table, from `after` on.
    struct Assignment {
        var jobID: String
        var table: SnapshotTable
        var range: Int
        var after: [String?]?
        var through: [String?]?
        var filter: String?
        var limit: Int
    }

    enum SlotState {
        case reading
        case read(SnapshotChunk)
        case failed(PipelineError)
    }

    /// One chunk of a lane, from its low watermark until the pipeline takes it.
    struct Slot {
        let read: ChunkRead
        let range: Int
        var state = SlotState.reading
    }

    private struct Lane {
        var assignment: Assignment?
        /// A read is under way (its rows not delivered): the next one starts after its last key.
        var busy = false
        var slots: [Slot] = []
    }

    private let condition = NSCondition()
    private var lanes: [Lane]
    private var generation = 0
    private var sequence = 0
    private var stopping = false
    let depth: Int
    /// Makes this run's watermarks unlike any earlier run's that the slot sends again.
    private let runTag = String(UInt64.random(in: 0...UInt64.max), radix: 36)

    init(lanes: Int, depth: Int) {
        self.lanes = Array(repeating: Lane(), count: lanes)
        self.depth = depth
    }

    var laneCount: Int { lanes.count }

    private func locked<T>(_ body: () throws(PipelineError) -> T) throws(PipelineError) -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    // MARK: The lanes' side

    /// The next chunk lane `lane` may read now, registered as reading; nil when it has no range
    /// or holds `depth` chunks already.
    func nextRead(lane index: Int) -> ChunkRead? {
        locked { takeRead(lane: index) }
    }

    /// Waits for the next chunk lane `lane` may read; nil once the board is stopped.
    func waitForRead(lane index: Int) -> ChunkRead? {
        condition.lock()
        defer { condition.unlock() }
        while !stopping {
            if let read = takeRead(lane: index) { return read }
            condition.wait()
        }
        return nil
    }

    private func takeRead(lane index: Int) -> ChunkRead? {
        guard !stopping, !lanes[index].busy, let assignment = lanes[index].assignment, lanes[index].slots.count < depth else { return nil }
        sequence += 1
        let read = ChunkRead(
            table: assignment.table, after: assignment.after, through: assignment.through, filter: assignment.filter, limit: assignment.limit,
            watermark: "\(assignment.jobID):\(runTag)-\(generation):\(index):\(sequence)")
        lanes[index].busy = true
        lanes[index].slots.append(Slot(read: read, range: assignment.range))
        return read
    }

    /// The rows of a chunk lane `lane` read: its range goes on after the chunk's last key, or
    /// ends with a short chunk.
    func delivered(_ chunk: SnapshotChunk, lane index: Int) {
        locked {
            lanes[index].busy = false
            defer { condition.broadcast() }
            guard let slot = lanes[index].slots.firstIndex(where: { $0.read.watermark == chunk.watermark }) else { return }  // forgotten by a restart
            lanes[index].slots[slot].state = .read(chunk)
            if chunk.isLastOfRange {
                lanes[index].assignment = nil
            } else if let last = chunk.lastKey {
                lanes[index].assignment?.after = last
            }
        }
    }

    /// A read failed (before or after its rows were delivered): the lane stops; the pipeline
    /// restarts the reads after a pause.
    func failed(_ watermark: String, lane index: Int, _ error: PipelineError) {
        locked {
            lanes[index].busy = false
            defer { condition.broadcast() }
            guard let slot = lanes[index].slots.firstIndex(where: { $0.read.watermark == watermark }) else { return }
            lanes[index].slots[slot].state = .failed(error)
            lanes[index].assignment = nil
        }
    }

    // MARK: The pipeline's side

    /// Lanes without a range to read.
    func idleLanes() -> [Int] {
        locked { lanes.indices.filter { lanes[$0].assignment == nil } }
    }

    func assign(_ assignment: Assignment, lane index: Int) {
        locked {
            lanes[index].assignment = assignment
            condition.broadcast()
        }
    }

    /// The chunk whose watermark this is, if it is one of this generation's reads.
    func slot(_ watermark: String) -> Slot? {
        locked {
            for lane in lanes { if let slot = lane.slots.first(where: { $0.read.watermark == watermark }) { return slot } }
            return nil
        }
    }

    /// Takes the chunk whose watermark this is off the board (at its high watermark), which
    /// frees its place for its lane's next read.
    func take(_ watermark: String) -> Slot? {
        locked {
            for index in lanes.indices {
                if let position = lanes[index].slots.firstIndex(where: { $0.read.watermark == watermark }) {
                    condition.broadcast()
                    return lanes[index].slots.remove(at: position)
                }
            }
            return nil
        }
    }

    /// The first failed read, if any.
    func failure() -> PipelineError? {
        locked {
            for lane in lanes {
                for slot in lane.slots { if case .failed(let error) = slot.state { return error } }
            }
            return nil
        }
    }

    /// Chunks read or being read and not yet taken.
    var chunksInFlight: Int { locked { lanes.reduce(0) { $0 + $1.slots.count } } }

    /// Forgets every assignment and chunk in flight.
    func restart() {
        locked {
            generation += 1
            for index in lanes.indices {
                lanes[index].assignment = nil
                lanes[index].slots = []
            }
            condition.broadcast()
        }
    }

    /// Lanes waiting for work return; lanes reading finish their chunk and return.
    func stop() {
        locked {
            stopping = true
            condition.broadcast()
        }
    }
}

/// Runs a lane: reads the chunks the board hands it until the board stops.
enum ChunkReadLane {
    /// One read, delivered to the board or failed on it.
    static func read(_ read: ChunkRead, lane: Int, with reader: any SnapshotChunkReader, board: ChunkReadBoard) {
        do {
            try reader.readChunk(read) { chunk in board.delivered(chunk, lane: lane) }
        } catch {
            board.failed(read.watermark, lane: lane, error)
        }
    }

    /// A thread of its own per lane, for readers that read concurrently.
    static func start(lane: Int, reader: any SnapshotChunkReader, board: ChunkReadBoard) {
        let thread = Thread {
            while let next = board.waitForRead(lane: lane) { read(next, lane: lane, with: reader, board: board) }
        }
        thread.name = "outflow-snapshot-\(lane)"
        thread.start()
    }

    /// On the caller's thread: every chunk the lanes may read now (the tests' scripted reader).
    static func pump(readers: [any SnapshotChunkReader], board: ChunkReadBoard) {
        var progressed = true
        while progressed {
            progressed = false
            for (lane, reader) in readers.enumerated() {
                if let next = board.nextRead(lane: lane) {
                    read(next, lane: lane, with: reader, board: board)
                    progressed = true
                }
            }
        }
    }
}
