#ifndef DEPLOYDAG_STRING_TABLE_H
#define DEPLOYDAG_STRING_TABLE_H

#include <graphviz/cdt.h>

// A hash table for libcgraph's shared string dictionary (Agclos_t.strdict), in place of the
// self-adjusting tree cgraph opens for it.
//
// cgraph interns every identifier and quoted string the lexer reads (agstrdup), and every
// attribute value, node name and key it stores, in one dictionary of reference-counted strings
// per root graph. cgraph 2.x keeps that dictionary as a splay tree compared with strcmp: on a file
// of a million nodes it holds about a million distinct strings, and the lookups are a third of
// the parse (strcmp alone a fifth). This table is a cdt dictionary with its own search method:
// chained through the objects' own Dtlink_t (as cdt's hash method is, so no memory per string),
// the hash kept in the link, a bucket array that doubles as it fills.
//
// It supports what cgraph asks of its string dictionary: search, insert (returning the object
// already there for an equal key), delete (calling the discipline's freef) and clear. Only the
// bucket array, the table and its Dtdata_t are malloc'd; string_table_close frees them and never
// touches the strings, which belong to the graph's memory discipline.

// cgraph's reference-counted string (refstr_t in lib/cgraph/refstr.c, graphviz 2.x): the
// dictionary's objects. The table reads only the link and the key `s`.
typedef struct {
    Dtlink_t link;
    unsigned long refcnt;
    char *s;
    char store[1];
} string_table_refstr;

// Whether the installed graphviz lays its strings out as string_table_refstr (graphviz 2.x).
int string_table_suits_cgraph(void);

// A new, empty string dictionary whose objects are cgraph strings, deleted through `freef`
// (cgraph's agdictobjfree, as its own dictionary does). NULL if memory runs out.
Dt_t *string_table_open(Dtfree_f freef);

// Whether `dict` is one string_table_open made.
int string_table_is(const Dt_t *dict);

// Frees the table's own memory (buckets, data, header), not the strings.
void string_table_close(Dt_t *dict);

// Strings in the table, for tests.
size_t string_table_count(const Dt_t *dict);

#endif
