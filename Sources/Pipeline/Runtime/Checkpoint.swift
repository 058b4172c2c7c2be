import PGOutput

/// What the pipeline stores in each log commit record (exactly-once): the source position to
/// resume after, and the changes of stateful stages. Committed atomically with the output.
public struct Checkpoint: Sendable, Equatable {
    /// The Commit end LSN of the last source transaction in the log transaction.
    public var sourceEnd: LSN
    /// Stage id → the stage's changes in this commit.
    public var stageChanges: [String: [UInt8]]

    public init(sourceEnd: LSN, stageChanges: [String: [UInt8]] = [:]) {
        self.sourceEnd = sourceEnd
        self.stageChanges = stageChanges
    }

    static let magic: [UInt8] = Array("OFCK".utf8)
    static let version: UInt8 = 1

    public func encoded() -> [UInt8] {
        var writer = CheckpointWriter()
        writer.bytes.append(contentsOf: Self.magic)
        writer.bytes.append(Self.version)
        writer.write(sourceEnd.rawValue)
        writer.write(UInt32(stageChanges.count))
        for (id, changes) in stageChanges.sorted(by: { $0.key < $1.key }) {
            writer.write(Array(id.utf8))
            writer.write(changes)
        }
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(CheckpointError) {
        guard bytes.count >= 5, Array(bytes[0..<4]) == Self.magic else {
            throw CheckpointError(message: "the log's commit record was not written by an Outflow pipeline")
        }
        guard bytes[4] == Self.version else { throw CheckpointError(message: "unknown checkpoint version \(bytes[4])") }
        var reader = CheckpointReader(Array(bytes[5...]))
        sourceEnd = LSN(try reader.readUInt64())
        let count = try reader.readUInt32()
        var changes: [String: [UInt8]] = [:]
        for _ in 0..<count {
            let id = String(decoding: try reader.readBytes(), as: UTF8.self)
            changes[id] = try reader.readBytes()
        }
        guard reader.isAtEnd else { throw CheckpointError(message: "trailing bytes in a checkpoint") }
        stageChanges = changes
    }
}

public struct CheckpointError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "damaged checkpoint: \(message)" }
}

/// Big-endian integers and length-prefixed byte strings.
struct CheckpointWriter {
    var bytes: [UInt8] = []

    mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func write(_ data: [UInt8]) {
        write(UInt32(data.count))
        bytes.append(contentsOf: data)
    }
}

struct CheckpointReader {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }

    mutating func readUInt64() throws(CheckpointError) -> UInt64 {
        guard bytes.count - position >= 8 else { throw CheckpointError(message: "truncated at byte \(position)") }
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(bytes[position]); position += 1 }
        return value
    }

    mutating func readUInt32() throws(CheckpointError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw CheckpointError(message: "truncated at byte \(position)") }
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 8 | UInt32(bytes[position]); position += 1 }
        return value
    }

    mutating func readBytes() throws(CheckpointError) -> [UInt8] {
        let count = Int(try readUInt32())
        guard bytes.count - position >= count else { throw CheckpointError(message: "a length of \(count) past the end at byte \(position)") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }
}
