/// A topic name and an array of its partitions: the shape most requests and responses repeat
/// (Fetch, ListOffsets, OffsetCommit, OffsetFetch, OffsetForLeaderEpoch, Produce), with the
/// structure's own tagged-field section in flexible versions. Each message names it `Topic`.
public struct KafkaTopic<Partition: KafkaStructure>: KafkaStructure {
    public var name: String
    public var partitions: [Partition]

    public init(name: String, partitions: [Partition]) {
        self.name = name
        self.partitions = partitions
    }

    public static func read(from reader: inout KafkaReader, version: Int16) throws(KafkaProtocolError) -> Self {
        let topic = try Self(name: reader.readString("topic"), partitions: reader.readArray("partitions", of: Partition.self, version: version))
        try reader.skipTaggedFields()
        return topic
    }

    public func write(to writer: inout KafkaWriter, version: Int16) {
        writer.writeString(name)
        writer.writeArray(partitions, version: version)
        writer.writeEmptyTaggedFields()
    }
}
