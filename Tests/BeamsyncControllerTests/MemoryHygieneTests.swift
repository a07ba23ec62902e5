import BeamsyncController
import Testing

#if os(Linux)
import Glibc

@Suite("Memory hygiene")
struct MemoryHygieneTests {
    /// glibc raises its mmap threshold to the size of any large block that is freed (and its trim
    /// threshold to twice that): after a 10,000-document apply frees its multi-megabyte arrays,
    /// later large blocks land in a thread arena whose top `malloc_trim` never gives back.
    @Test("after a large block is freed, megabyte-sized blocks still get their own mappings, so freeing them returns their pages")
    func largeBlocksKeepTheirOwnMappings() throws {
        MemoryHygiene.configureAllocator()
        let large = try #require(malloc(8 << 20))
        memset(large, 1, 8 << 20)
        free(large)
        let blocks = (0..<8).map { _ in malloc(2 << 20)! }
        defer { blocks.forEach { free($0) } }
        for block in blocks {
            // A block with its own mapping starts 16 bytes (its chunk header) into a fresh page.
            #expect(UInt(bitPattern: block) % 4096 == 16)
        }
    }
}
#endif
