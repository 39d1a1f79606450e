#ifndef DEPLOYDAG_CGRAPHVIZ_SHIM_H
#define DEPLOYDAG_CGRAPHVIZ_SHIM_H

#include <stdio.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

// Exported by libcgraph but missing from its public header: flushes the lexer's buffer
// (YY_FLUSH_BUFFER). Without it, text a previous stream left unread (after a second graph in a
// file, say) is read as the start of the next one.
extern void aglexbad(void);

// Exported by libcgraph but missing from its public header: how cgraph's dictionaries free an
// object, with the memory of the graph that deleted it (lib/cgraph/utils.c). The string table
// deploydag gives cgraph (GraphArena's StringTable.h) deletes strings through it, as cgraph's own
// string dictionary does.
extern void agdictobjfree(Dict_t *dict, void *p, Dtdisc_t *disc);

// The attribute dictionaries cgraph keeps on each graph, as a record named "_AG_datadict"
// (struct Agdatadict_s in cgraph's private cghdr.h, unchanged since cgraph began).
typedef struct {
    Agrec_t h;
    struct {
        Dict_t *n, *e, *g;
    } dict;
} deploydag_datadict_t;

// The graph's node, edge and graph attribute dictionaries, or NULLs when it has none.
static inline deploydag_datadict_t *deploydag_datadict(Agraph_t *g) {
    return (deploydag_datadict_t *)aggetrec(g, "_AG_datadict", 0);
}

// Swift cannot call C macros; these wrap the ones deploydag needs.

static inline Agnode_t *deploydag_agtail(Agedge_t *e) { return agtail(e); }
static inline Agnode_t *deploydag_aghead(Agedge_t *e) { return aghead(e); }
static inline Agdesc_t deploydag_directed_desc(void) { return Agdirected; }
static inline int deploydag_agkind_node(void) { return AGNODE; }
static inline int deploydag_agkind_edge(void) { return AGEDGE; }
static inline int deploydag_agkind_graph(void) { return AGRAPH; }
static inline unsigned long deploydag_agseq(void *obj) { return AGSEQ(obj); }
static inline Agiddisc_t *deploydag_default_id_disc(void) { return &AgIdDisc; }
static inline Agiodisc_t *deploydag_default_io_disc(void) { return &AgIoDisc; }
static inline Agmemdisc_t *deploydag_default_mem_disc(void) { return &AgMemDisc; }

#endif
