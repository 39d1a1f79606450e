#include "GraphArena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

// Blocks carry no header. Memory comes in chunks of CHUNK bytes aligned to CHUNK, so a block's
// chunk is its address rounded down. A chunk is either cut into SLAB-sized slabs, each holding
// blocks of one size class (a multiple of 8 bytes) and recorded in the chunk's header, or holds
// one large block. A freed small block goes on its class's free list and is zeroed when handed
// out again.
//
// cgraph's blocks are mostly small and of a few sizes (nodes, attribute records, edge pairs,
// strings): without a per-block header and with 8-byte steps, a parsed graph takes less memory
// than with malloc, whose chunks carry 8 bytes of header and grow in 16-byte steps. A small
// graph touches one chunk: a handful of pages and one mapping.

enum {
    GRANULE = 8,
    SMALL_LIMIT = 8192,
    CLASSES = SMALL_LIMIT / GRANULE + 1,
    CHUNK = 1 << 20,
    SLAB = 1 << 16,
    SLABS = CHUNK / SLAB,
    HEADER = 256,  // the chunk header, at the start of slab 0
};

typedef struct chunk {
    uint32_t large;  // 1: one large block after the header
    uint32_t slabs_used;
    size_t mapped;  // bytes mapped from the chunk's start
    struct chunk *prev, *next;
    uint16_t slab_class[SLABS];
} chunk;

_Static_assert(sizeof(chunk) <= HEADER, "chunk header too big");

struct graph_arena {
    void *free_lists[CLASSES];
    char *cursor[CLASSES], *limit[CLASSES];
    chunk *chunks;   // every chunk, slabs and large
    chunk *current;  // the chunk new slabs come from
    size_t reserved;
};

graph_arena *graph_arena_open(void) { return calloc(1, sizeof(graph_arena)); }

// Maps `size` bytes (a multiple of the page size) at a CHUNK-aligned address.
static void *map_aligned(size_t size) {
    size_t span = size + CHUNK;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *base = (char *)(((uintptr_t)raw + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
    if (base > raw) munmap(raw, (size_t)(base - raw));
    char *end = raw + span;
    if (end > base + size) munmap(base + size, (size_t)(end - (base + size)));
    return base;  // fresh anonymous pages: zero, and resident only once touched
}

static chunk *new_chunk(graph_arena *arena, size_t mapped, uint32_t large) {
    chunk *c = map_aligned(mapped);
    if (!c) return NULL;
    c->large = large;
    c->mapped = mapped;
    c->next = arena->chunks;
    if (arena->chunks) arena->chunks->prev = c;
    arena->chunks = c;
    arena->reserved += mapped;
    return c;
}

static chunk *chunk_of(const void *block) { return (chunk *)((uintptr_t)block & ~(uintptr_t)(CHUNK - 1)); }

static size_t class_of(const void *block) {
    const chunk *c = chunk_of(block);
    return c->slab_class[((uintptr_t)block - (uintptr_t)c) / SLAB];
}

// Gives class `cls` a fresh slab to carve blocks from.
static int new_slab(graph_arena *arena, size_t cls) {
    chunk *c = arena->current;
    if (!c || c->slabs_used == SLABS) {
        c = new_chunk(arena, CHUNK, 0);
        if (!c) return 0;
        arena->current = c;
    }
    size_t slab = c->slabs_used++;
    c->slab_class[slab] = (uint16_t)cls;
    char *start = (char *)c + slab * SLAB;
    arena->cursor[cls] = slab == 0 ? start + HEADER : start;
    arena->limit[cls] = start + SLAB;
    return 1;
}

void *graph_arena_alloc(graph_arena *arena, size_t size) {
    if (size == 0) size = 1;
    size_t rounded = (size + GRANULE - 1) & ~(size_t)(GRANULE - 1);
    if (rounded <= SMALL_LIMIT) {
        size_t cls = rounded / GRANULE;
        char *block = arena->free_lists[cls];
        if (block) {
            arena->free_lists[cls] = *(void **)block;
            memset(block, 0, rounded);
            return block;
        }
        if (arena->cursor[cls] + rounded > arena->limit[cls] && !new_slab(arena, cls)) return NULL;
        block = arena->cursor[cls];
        arena->cursor[cls] += rounded;
        return block;  // never handed out before: already zero
    }
    size_t pages = (HEADER + size + 4095) & ~(size_t)4095;
    chunk *c = new_chunk(arena, pages, 1);
    return c ? (char *)c + HEADER : NULL;
}

static size_t capacity(const void *block) {
    const chunk *c = chunk_of(block);
    if (c->large) return c->mapped - HEADER;
    return class_of(block) * GRANULE;
}

void graph_arena_free(graph_arena *arena, void *block) {
    if (!block) return;
    chunk *c = chunk_of(block);
    if (!c->large) {
        size_t cls = class_of(block);
        *(void **)block = arena->free_lists[cls];
        arena->free_lists[cls] = block;
        return;
    }
    if (c->prev) c->prev->next = c->next;
    else arena->chunks = c->next;
    if (c->next) c->next->prev = c->prev;
    arena->reserved -= c->mapped;
    munmap(c, c->mapped);
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
        munmap(c, c->mapped);
        c = next;
    }
    free(arena);
}

size_t graph_arena_reserved_bytes(const graph_arena *arena) { return arena ? arena->reserved : 0; }
