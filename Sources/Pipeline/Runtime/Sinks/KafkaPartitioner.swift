/// Kafka's default partitioner for keyed records: murmur2 of the key bytes, made positive,
/// modulo the partition count — so a Kafka producer would pick the same partition for the
/// same key, and one aggregate's events stay in one partition, in order.
public enum KafkaPartitioner {
    /// The partition for `key` among `partitionCount` partitions.
    public static func partition(forKey key: some Collection<UInt8>, partitionCount: Int) -> Int {
        precondition(partitionCount > 0, "a topic has at least one partition")
        // Kafka's toPositive masks the sign bit (it does not take the absolute value).
        return Int(UInt32(bitPattern: murmur2(key)) & 0x7FFF_FFFF) % partitionCount
    }

    /// MurmurHash2, 32-bit, with Kafka's seed, reading the input as little-endian 4-byte words.
    public static func murmur2(_ data: some Collection<UInt8>) -> Int32 {
        let m: UInt32 = 0x5BD1_E995
        let r: UInt32 = 24
        let length = data.count
        var h: UInt32 = 0x9747_B28C ^ UInt32(truncatingIfNeeded: length)
        var iterator = data.makeIterator()
        var remaining = length
        while remaining >= 4 {
            let b0 = UInt32(iterator.next()!), b1 = UInt32(iterator.next()!)
            let b2 = UInt32(iterator.next()!), b3 = UInt32(iterator.next()!)
            var k = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
            remaining -= 4
        }
        var tail: [UInt32] = []
        while let byte = iterator.next() { tail.append(UInt32(byte)) }
        switch tail.count {
        case 3:
            h ^= tail[2] << 16
            fallthrough
        case 2:
            h ^= tail[1] << 8
            fallthrough
        case 1:
            h ^= tail[0]
            h &*= m
        default:
            break
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }
}
