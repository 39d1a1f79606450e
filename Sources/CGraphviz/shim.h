#ifndef DEPLOYDAG_CGRAPHVIZ_SHIM_H
#define DEPLOYDAG_CGRAPHVIZ_SHIM_H

#include <stdio.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

// Swift cannot call C macros; these wrap the ones deploydag needs.

static inline Agnode_t *deploydag_agtail(Agedge_t *e) { return agtail(e); }
static inline Agnode_t *deploydag_aghead(Agedge_t *e) { return aghead(e); }
static inline Agdesc_t deploydag_directed_desc(void) { return Agdirected; }
static inline int deploydag_agkind_node(void) { return AGNODE; }
static inline int deploydag_agkind_edge(void) { return AGEDGE; }
static inline int deploydag_agkind_graph(void) { return AGRAPH; }

#endif
