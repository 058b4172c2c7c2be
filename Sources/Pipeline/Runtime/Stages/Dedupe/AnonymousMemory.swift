#if canImport(Glibc)
import Glibc
#endif

/// Zeroed memory straight from the kernel (an anonymous private mapping), given back whole
/// when freed. The tables and filters are tens of MiB and come and go as buckets are sealed:
/// from malloc, freed blocks below its (growing) mmap threshold stay in the heap and keep
/// counting as resident.
enum AnonymousMemory {
    static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = max(byteCount, 1)
        guard let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), pointer != MAP_FAILED else {
            fatalError("out of memory: mmap of \(size) bytes failed (errno \(errno))")
        }
        return pointer
    }

    static func free(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        munmap(pointer, max(byteCount, 1))
    }
}
