#include "GraphArena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

// Small blocks (up to SMALL_LIMIT bytes with their header) are carved from chunks and kept on
// one free list per 16-byte size class; larger ones come from calloc and are linked so that
// closing frees them. Every block is preceded by an 8-byte header holding its size class, or 0
// for a large block.

enum {
    GRANULE = 16,
    SMALL_LIMIT = 4096,
    CLASSES = SMALL_LIMIT / GRANULE + 1,
    FIRST_CHUNK = 1 << 20,
    LARGEST_CHUNK = 64 << 20,
};

typedef struct chunk {
    struct chunk *next;
    size_t size;
} chunk;

typedef struct large_block {
    struct large_block *prev, *next;
    size_t size;
    uint64_t header;  // 0: large; must sit right before the caller's pointer
} large_block;

struct graph_arena {
    void *free_lists[CLASSES];
    char *cursor, *limit;
    chunk *chunks;
    size_t next_chunk;
    large_block *large;
    size_t reserved;
};

graph_arena *graph_arena_open(void) {
    graph_arena *arena = calloc(1, sizeof *arena);
    if (arena) arena->next_chunk = FIRST_CHUNK;
    return arena;
}

static int grow(graph_arena *arena, size_t need) {
    size_t size = arena->next_chunk;
    while (size < need + sizeof(chunk)) size *= 2;
    if (arena->next_chunk < LARGEST_CHUNK) arena->next_chunk *= 2;
    // Fresh anonymous pages are zero and only count as resident once touched.
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return 0;
    chunk *c = memory;
    c->next = arena->chunks;
    c->size = size;
    arena->chunks = c;
    arena->reserved += size;
    // Keep the caller's blocks 16-byte aligned: headers sit at 8 mod 16.
    arena->cursor = (char *)memory + sizeof(chunk) + 8;
    arena->limit = (char *)memory + size;
    return 1;
}

void *graph_arena_alloc(graph_arena *arena, size_t size) {
    size_t total = (size + 8 + GRANULE - 1) & ~(size_t)(GRANULE - 1);
    if (total <= SMALL_LIMIT) {
        size_t cls = total / GRANULE;
        char *block = arena->free_lists[cls];
        if (block) {
            arena->free_lists[cls] = *(void **)block;
            memset(block, 0, total - 8);
            return block;
        }
        if (arena->cursor + total > arena->limit && !grow(arena, total)) return NULL;
        char *header = arena->cursor;
        arena->cursor += total;
        *(uint64_t *)header = cls;
        return header + 8;  // never used before: already zero
    }
    large_block *big = calloc(1, sizeof(large_block) + size);
    if (!big) return NULL;
    big->size = size;
    big->next = arena->large;
    if (arena->large) arena->large->prev = big;
    arena->large = big;
    arena->reserved += sizeof(large_block) + size;
    return big + 1;
}

static size_t capacity(const void *block) {
    uint64_t cls = ((const uint64_t *)block)[-1];
    if (cls) return cls * GRANULE - 8;
    return ((const large_block *)block - 1)->size;
}

void graph_arena_free(graph_arena *arena, void *block) {
    if (!block) return;
    uint64_t cls = ((uint64_t *)block)[-1];
    if (cls) {
        *(void **)block = arena->free_lists[cls];
        arena->free_lists[cls] = block;
        return;
    }
    large_block *big = (large_block *)block - 1;
    if (big->prev) big->prev->next = big->next;
    else arena->large = big->next;
    if (big->next) big->next->prev = big->prev;
    arena->reserved -= sizeof(large_block) + big->size;
    free(big);
}

void *graph_arena_resize(graph_arena *arena, void *block, size_t old_size, size_t new_size) {
    if (!block) return graph_arena_alloc(arena, new_size);
    size_t room = capacity(block);
    if (new_size <= room) {
        // cgraph's contract (like its default memresize): bytes past the old size read as zero.
        if (new_size > old_size) memset((char *)block + old_size, 0, new_size - old_size);
        return block;
    }
    void *moved = graph_arena_alloc(arena, new_size);
    if (!moved) return NULL;
    memcpy(moved, block, old_size < room ? old_size : room);
    graph_arena_free(arena, block);
    return moved;
}

void graph_arena_close(graph_arena *arena) {
    if (!arena) return;
    for (chunk *c = arena->chunks; c;) {
        chunk *next = c->next;
        munmap(c, c->size);
        c = next;
    }
    for (large_block *big = arena->large; big;) {
        large_block *next = big->next;
        free(big);
        big = next;
    }
    free(arena);
}

size_t graph_arena_reserved_bytes(const graph_arena *arena) { return arena ? arena->reserved : 0; }
