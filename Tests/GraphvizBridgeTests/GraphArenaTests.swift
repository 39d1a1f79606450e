import GraphArena
import Testing

/// The allocator cgraph gets for each parse: zeroed blocks, reuse by size class, resize as
/// cgraph's default discipline does, everything released by closing.
@Suite struct GraphArenaTests {
    private func isZero(_ block: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        UnsafeRawBufferPointer(start: block, count: count).allSatisfy { $0 == 0 }
    }

    @Test func blocksAreZeroedAlignedAndApart() throws {
        let arena = try #require(graph_arena_open())
        defer { graph_arena_close(arena) }
        var blocks: [(UnsafeMutableRawPointer, Int)] = []
        // Enough to cross many chunks of every size class used.
        for i in 0..<60_000 {
            let size = [1, 8, 24, 100, 136, 700, 4000][i % 7]
            let block = try #require(graph_arena_alloc(arena, size))
            #expect(Int(bitPattern: block) % 8 == 0)
            if i % 997 == 0 { #expect(isZero(block, size)) }
            block.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: i | 1), count: size)
            blocks.append((block, size))
        }
        // Nothing overwrote anything else.
        for (i, (block, size)) in blocks.enumerated() where i % 101 == 0 {
            let expected = UInt8(truncatingIfNeeded: i | 1)
            #expect(UnsafeRawBufferPointer(start: block, count: size).allSatisfy { $0 == expected })
        }
    }

    @Test func aFreedBlockComesBackZeroed() throws {
        let arena = try #require(graph_arena_open())
        defer { graph_arena_close(arena) }
        let first = try #require(graph_arena_alloc(arena, 40))
        first.initializeMemory(as: UInt8.self, repeating: 0xAB, count: 40)
        graph_arena_free(arena, first)
        let second = try #require(graph_arena_alloc(arena, 37))  // the same 40-byte class
        #expect(second == first)
        #expect(isZero(second, 40))
        graph_arena_free(arena, nil)  // as free(NULL): nothing
    }

    @Test func resizeKeepsTheContentsAndZeroesTheRest() throws {
        let arena = try #require(graph_arena_open())
        defer { graph_arena_close(arena) }
        let block = try #require(graph_arena_alloc(arena, 20))
        block.initializeMemory(as: UInt8.self, repeating: 7, count: 20)
        // Within the block's 24 bytes: in place, bytes 20..<24 zero.
        let same = try #require(graph_arena_resize(arena, block, 20, 24))
        #expect(same == block)
        #expect(isZero(same + 20, 4))
        // Beyond it: moved, the 24 bytes kept, the rest zero; and up to a large block.
        let moved = try #require(graph_arena_resize(arena, same, 24, 3000))
        #expect(UnsafeRawBufferPointer(start: moved, count: 20).allSatisfy { $0 == 7 })
        #expect(isZero(moved + 20, 2980))
        let large = try #require(graph_arena_resize(arena, moved, 3000, 100_000))
        #expect(UnsafeRawBufferPointer(start: large, count: 20).allSatisfy { $0 == 7 })
        #expect(isZero(large + 20, 99_980))
        let fresh = try #require(graph_arena_resize(arena, nil, 0, 16))  // as realloc(NULL)
        #expect(isZero(fresh, 16))
    }

    @Test func largeBlocksAreReturnedToTheSystemWhenFreed() throws {
        let arena = try #require(graph_arena_open())
        defer { graph_arena_close(arena) }
        let before = graph_arena_reserved_bytes(arena)
        let big = try #require(graph_arena_alloc(arena, 5_000_000))
        #expect(isZero(big, 5_000_000))
        #expect(graph_arena_reserved_bytes(arena) >= before + 5_000_000)
        graph_arena_free(arena, big)
        #expect(graph_arena_reserved_bytes(arena) == before)
        #expect(graph_arena_alloc(arena, 0) != nil)
    }
}
