/* The floor of any libcgraph-based checker: read the file with agread (libcgraph's default
 * disciplines), walk every node and out-edge, read each declared node attribute and each edge's
 * operand with agget, and exit. It does not agclose the graph: a checker that exits never needs to
 * free it, and freeing is about a quarter of the time. deploydag's check is measured against it. */
#include <graphviz/cgraph.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: floor FILE.dot\n"); return 2; }
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 2; }
    Agraph_t *g = agread(f, NULL);
    fclose(f);
    if (!g) { fprintf(stderr, "parse failed\n"); return 1; }
    unsigned long nodes = 0, edges = 0, chars = 0;
    char *names[64];
    int count = 0;
    for (Agsym_t *s = agnxtattr(g, AGNODE, NULL); s && count < 64; s = agnxtattr(g, AGNODE, s)) names[count++] = s->name;
    for (Agnode_t *n = agfstnode(g); n; n = agnxtnode(g, n)) {
        nodes++;
        for (int i = 0; i < count; i++) { char *v = agget(n, names[i]); if (v) chars += v[0] != 0; }
        for (Agedge_t *e = agfstout(g, n); e; e = agnxtout(g, e)) { edges++; char *v = agget(e, "operand"); if (v) chars += v[0] != 0; }
    }
    printf("%lu nodes %lu edges %lu values\n", nodes, edges, chars);
    return 0;
}
