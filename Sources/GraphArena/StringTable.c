#include "StringTable.h"

#include <graphviz/graphviz_version.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Open addressing with linear probing, at most half full. A slot holds the string's address
// with 16 more bits of its hash in the top bits, which user-space addresses leave clear, so
// that a probe reads a string only when those bits match: the slot array is the only memory
// a miss touches. (If an address ever uses its top bits, the table stops tagging.) The full
// 32-bit hash is kept in the string's own Dtlink_t, for moving entries after a delete.
typedef struct {
    uint64_t *slots;  // 0: empty
    size_t capacity;  // a power of two
    size_t count;
    int untagged;
    Dtdisc_t disc;
} table;

static void *search(Dt_t *dict, void *object, int type);
static Dtmethod_t method = {search, DT_SET};

int string_table_suits_cgraph(void) { return strncmp(PACKAGE_VERSION, "2.", 2) == 0; }

static inline table *of(const Dt_t *dict) { return (table *)dict->user; }

static inline const char *key_of(const void *object) { return ((const string_table_refstr *)object)->s; }

static const uint64_t ADDRESS = (1ull << 48) - 1;

static inline uint64_t hash_of(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, 64-bit
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

static inline uint32_t short_hash(uint64_t h) { return (uint32_t)(h ^ (h >> 32)); }

static inline uint64_t slot_for(const table *t, void *object, uint64_t h) {
    return t->untagged ? (uint64_t)(uintptr_t)object : ((uint64_t)(uintptr_t)object | (h & ~ADDRESS));
}

static inline void *object_in(const table *t, uint64_t slot) {
    return (void *)(uintptr_t)(t->untagged ? slot : (slot & ADDRESS));
}

static int grow(table *t) {
    size_t capacity = t->capacity * 2;
    uint64_t *slots = calloc(capacity, sizeof *slots);
    if (!slots) return 0;
    for (size_t i = 0; i < t->capacity; i++) {
        if (!t->slots[i]) continue;
        Dtlink_t *l = object_in(t, t->slots[i]);
        size_t j = l->hl._hash & (capacity - 1);
        while (slots[j]) j = (j + 1) & (capacity - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->capacity = capacity;
    return 1;
}

// Empties slot `i` and moves later entries of its run back, so that no search stops short.
static void remove_at(table *t, size_t i) {
    size_t mask = t->capacity - 1;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = ((Dtlink_t *)object_in(t, t->slots[j]))->hl._hash & mask;
        // The entry at j may fill the hole if its home is not in (hole, j], cyclically.
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole] = 0;
}

static void *search(Dt_t *dict, void *object, int type) {
    table *t = of(dict);
    if (type & DT_CLEAR) {
        for (size_t i = 0; i < t->capacity; i++) {
            if (!t->slots[i]) continue;
            void *o = object_in(t, t->slots[i]);
            t->slots[i] = 0;
            if (t->disc.freef) t->disc.freef(dict, o, dict->disc);
        }
        t->count = 0;
        dict->data->size = 0;
        return NULL;
    }
    if (!object || !(type & (DT_SEARCH | DT_INSERT | DT_DELETE))) return NULL;
    const char *key = key_of(object);
    uint64_t h = hash_of(key);
    uint64_t tag = h & ~ADDRESS;
    size_t mask = t->capacity - 1;
    size_t i = short_hash(h) & mask;
    for (; t->slots[i]; i = (i + 1) & mask) {
        uint64_t slot = t->slots[i];
        if (!t->untagged && (slot & ~ADDRESS) != tag) continue;
        void *found = object_in(t, slot);
        if (strcmp(key_of(found), key) != 0) continue;
        if (type & DT_DELETE) {
            remove_at(t, i);
            t->count--;
            dict->data->size = (int)t->count;
            if (t->disc.freef) t->disc.freef(dict, found, dict->disc);
        }
        return found;  // an insert returns the string already there
    }
    if (!(type & DT_INSERT)) return NULL;
    if (!t->untagged && ((uintptr_t)object & ~ADDRESS)) {
        // An address with its top bits set: untag every slot and compare by string from now on.
        for (size_t k = 0; k < t->capacity; k++) t->slots[k] &= ADDRESS;
        t->untagged = 1;
    }
    ((Dtlink_t *)object)->hl._hash = short_hash(h);
    if ((t->count + 1) * 2 > t->capacity) {
        if (!grow(t)) return NULL;
        mask = t->capacity - 1;
        i = short_hash(h) & mask;
        while (t->slots[i]) i = (i + 1) & mask;
    }
    t->slots[i] = slot_for(t, object, h);
    t->count++;
    dict->data->size = (int)t->count;
    return object;
}

Dt_t *string_table_open(Dtfree_f freef) {
    Dt_t *dict = calloc(1, sizeof *dict);
    Dtdata_t *data = calloc(1, sizeof *data);
    table *t = calloc(1, sizeof *t);
    uint64_t *slots = calloc(1024, sizeof *slots);
    if (!dict || !data || !t || !slots) {
        free(dict), free(data), free(t), free(slots);
        return NULL;
    }
    t->slots = slots;
    t->capacity = 1024;
    t->disc = (Dtdisc_t){.key = offsetof(string_table_refstr, s), .size = -1, .link = 0, .freef = freef};
    data->type = DT_SET;
    dict->searchf = search;
    dict->disc = &t->disc;
    dict->data = data;
    dict->meth = &method;
    dict->user = t;
    return dict;
}

int string_table_is(const Dt_t *dict) { return dict && dict->searchf == search; }

void string_table_close(Dt_t *dict) {
    if (!string_table_is(dict)) return;
    table *t = of(dict);
    free(t->slots);
    free(t);
    free(dict->data);
    free(dict);
}

size_t string_table_count(const Dt_t *dict) { return string_table_is(dict) ? of(dict)->count : 0; }
