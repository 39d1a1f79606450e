#ifndef DEPLOYDAG_GRAPH_ARENA_H
#define DEPLOYDAG_GRAPH_ARENA_H

#include <stddef.h>

#include "StringTable.h"

// An allocator for one parsed graph's lifetime, with the shape of libcgraph's memory discipline
// (Agmemdisc_t): every block comes back zeroed, a freed block is reused for the next request of
// its size class, and closing the arena releases everything at once. Closing is what makes
// agclose cheap: with a discipline that has a close function, cgraph frees the whole graph in one
// call instead of deleting node by node.
//
// Not thread-safe: one arena belongs to one graph, used under GraphvizBridge's lock.

typedef struct graph_arena graph_arena;

graph_arena *graph_arena_open(void);
void *graph_arena_alloc(graph_arena *arena, size_t size);
void *graph_arena_resize(graph_arena *arena, void *block, size_t old_size, size_t new_size);
void graph_arena_free(graph_arena *arena, void *block);
void graph_arena_close(graph_arena *arena);

// Bytes the arena holds from the system (chunks and large blocks), for tests and benchmarks.
size_t graph_arena_reserved_bytes(const graph_arena *arena);

#endif
