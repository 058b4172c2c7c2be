import BinaryIO
import PGOutput

/// What the pipeline stores in each log commit record (exactly-once): the source position to
/// resume after, and the changes of stateful stages. Committed atomically with the output.
public struct Checkpoint: Sendable, Equatable {
    /// The Commit end LSN of the last source transaction in the log transaction.
    public var sourceEnd: LSN
    /// Stage id → the stage's changes in this commit.
    public var stageChanges: [String: [UInt8]]
    /// Where the snapshots stand (nil: no snapshot was running). Encoded after the stage
    /// changes, only when present, so a checkpoint without it has the bytes it always had and
    /// a log written before snapshots existed opens as it did.
    public var snapshot: SnapshotProgress?

    public init(sourceEnd: LSN, stageChanges: [String: [UInt8]] = [:], snapshot: SnapshotProgress? = nil) {
        self.sourceEnd = sourceEnd
        self.stageChanges = stageChanges
        self.snapshot = snapshot
    }

    /// Marks the optional snapshot section after the stage changes.
    static let snapshotTag = UInt8(ascii: "S")

    static let magic: [UInt8] = Array("OFCK".utf8)
    static let version: UInt8 = 1

    public func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.append(Self.version)
        bytes.appendInteger(sourceEnd.rawValue)
        bytes.appendInteger(UInt32(stageChanges.count))
        for (id, changes) in stageChanges.sorted(by: { $0.key < $1.key }) {
            bytes.appendLengthPrefixed(id.utf8, lengthAs: UInt32.self)
            bytes.appendLengthPrefixed(changes, lengthAs: UInt32.self)
        }
        if let snapshot {
            bytes.append(Self.snapshotTag)
            bytes.appendLengthPrefixed(snapshot.encoded(), lengthAs: UInt32.self)
        }
        return bytes
    }

    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        guard bytes.count >= 5, Array(bytes[0..<4]) == Self.magic else {
            throw CheckpointError(message: "the log's commit record was not written by an Outflow pipeline")
        }
        guard bytes[4] == Self.version else { throw CheckpointError(message: "unknown checkpoint version \(bytes[4])") }
        var reader = ByteReader<CheckpointError>(bytes, from: 5)
        sourceEnd = LSN(try reader.readInteger("source end", as: UInt64.self))
        let countOffset = reader.offset
        let count = Int(try reader.readInteger("stage count", as: UInt32.self))
        // Each stage takes at least its two lengths.
        try reader.requireRoom(forItems: count, minimumBytes: 8, "stage count", countOffset: countOffset)
        var changes: [String: [UInt8]] = [:]
        for _ in 0..<count {
            let id = String(decoding: try reader.readLengthPrefixed("stage id", lengthAs: UInt32.self), as: UTF8.self)
            changes[id] = Array(try reader.readLengthPrefixed("stage changes", lengthAs: UInt32.self))
        }
        if !reader.isAtEnd {
            let tag = try reader.readByte("section tag")
            guard tag == Self.snapshotTag else { throw CheckpointError(message: "unknown checkpoint section \(tag)") }
            snapshot = try SnapshotProgress(decoding: Array(try reader.readLengthPrefixed("snapshot progress", lengthAs: UInt32.self)))
        }
        guard reader.isAtEnd else { throw CheckpointError(message: "trailing bytes in a checkpoint") }
        stageChanges = changes
    }
}

public struct CheckpointError: Error, Sendable, CustomStringConvertible, ByteReadFailure {
    public var message: String

    public init(message: String) { self.message = message }

    public init(_ error: ByteReadError) { message = "\(error.detail) at byte \(error.offset)" }

    public var description: String { "damaged checkpoint: \(message)" }
}
