/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka record batches.
/// Table-driven slicing-by-8: eight bytes per step through eight 256-entry tables.
package enum CRC32C {
    static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var crc = UInt32(n)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[n] = crc
        }
        for n in 0..<256 {
            var crc = table[n]
            for slice in 1..<8 {
                crc = table[Int(crc & 0xFF)] ^ (crc >> 8)
                table[slice * 256 + n] = crc
            }
        }
        return table
    }()

    package static func checksum(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) -> UInt32 {
        let stop = end ?? bytes.count
        precondition(start >= 0 && start <= stop && stop <= bytes.count, "CRC range outside the buffer")
        return bytes.withUnsafeBytes { raw in
            update(0, UnsafeRawBufferPointer(rebasing: raw[start..<stop]))
        }
    }

    /// Continues a checksum: `update(update(0, a), b) == checksum(a + b)`.
    package static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = ~crc
        var count = bytes.count
        guard var pointer = bytes.baseAddress else { return ~crc }
        tables.withUnsafeBufferPointer { t in
            while count >= 8 {
                let low = UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)) ^ crc
                let high = UInt32(littleEndian: pointer.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                crc = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                pointer += 8
                count -= 8
            }
            while count > 0 {
                crc = t[Int((crc ^ UInt32(pointer.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                pointer += 1
                count -= 1
            }
        }
        return ~crc
    }
}
