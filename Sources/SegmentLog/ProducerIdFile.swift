import BinaryIO
/// `producer.state` in the log directory: the writer's producer id and current epoch.
/// Own format: "OFPS", version int16 = 1, producer id int64, epoch int16, CRC-32C of the rest.
enum ProducerIdFile {
    static let name = "producer.state"
    static let magic = Array("OFPS".utf8)

    static func encode(_ producer: ProducerIdentity) -> [UInt8] {
        var out = magic
        out.appendInteger(Int16(1))
        out.appendInteger(producer.producerId)
        out.appendInteger(producer.epoch)
        out.appendInteger(CRC32C.checksum(out))
        return out
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SegmentLogError) -> ProducerIdentity {
        guard bytes.count == 20, Array(bytes[0..<4]) == magic,
            CRC32C.checksum(bytes, from: 0, to: 16) == (try ByteReader(bytes, from: 16).peekInteger("checksum", as: UInt32.self))
        else { throw SegmentLogError(.corruptStateFile, "producer state file is damaged", path: path) }
        var reader = ByteReader(bytes, from: 4)
        guard try reader.readInteger(as: Int16.self) == 1 else {
            throw SegmentLogError(.corruptStateFile, "unknown producer state version", path: path)
        }
        return ProducerIdentity(producerId: try reader.readInteger(), epoch: try reader.readInteger())
    }

    /// The identity for a new writer: the stored one with the epoch bumped, or a fresh random
    /// id. An exhausted epoch takes a new id, as Kafka does.
    static func next(after stored: ProducerIdentity?) -> ProducerIdentity {
        guard let stored, stored.epoch < Int16.max - 1 else {
            return ProducerIdentity(producerId: Int64.random(in: 1...(Int64(1) << 48)), epoch: 0)
        }
        return ProducerIdentity(producerId: stored.producerId, epoch: stored.epoch + 1)
    }
}
