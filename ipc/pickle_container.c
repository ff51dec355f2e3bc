/*
 * Pickle -> JSON text: the containers (see pickle_dec.h). Lists, tuples,
 * dicts and sets are built on the stack, MARKs fence the values an opcode
 * may take, the memo shares values by index. A container's JSON size,
 * depth and hashability are kept up to date as members arrive, so every
 * limit is checked at the opcode that breaks it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "ipc/pickle_dec.h"

static const char *const ptype_names[] = {
	"None", "bool", "int", "float", "str", "bytes", "bytearray", "list",
	"tuple", "dict", "set", "frozenset",
};

/* Nesting of the value's JSON: the bytes object counts as one level. */
static int
val_depth(const struct dec *d, const struct pval *v)
{
	if (IS_CONTAINER(v->type))
		return d->conts[v->ref].depth;
	return v->type == PT_BYTES || v->type == PT_BYTEARRAY;
}

/* Whether Python could use the value as a dict key or set member. */
static int
val_hashable(const struct dec *d, const struct pval *v)
{
	switch (v->type) {
	case PT_BYTEARRAY:
	case PT_LIST:
	case PT_DICT:
	case PT_SET:
		return 0;
	case PT_TUPLE:
		return d->conts[v->ref].hashable;
	default:
		return 1;
	}
}

/* A new empty container; returns its index in d->conts. */
static size_t
cont_new(struct dec *d)
{
	struct pcont	*c;

	d->conts = dec_grow(d->conts, &d->ccap, d->cn, sizeof *d->conts);
	c = &d->conts[d->cn];
	memset(c, 0, sizeof *c);
	c->size = 2;
	c->depth = 1;
	c->hashable = 1;
	return d->cn++;
}

/* EMPTY_LIST, EMPTY_DICT, EMPTY_SET, EMPTY_TUPLE. */
int
dec_push_container(struct dec *d, enum ptype type)
{
	struct pval	v;

	v.ref = cont_new(d);
	v.len = 0;
	v.type = type;
	return dec_push(d, &v);
}

/* Order dict keys by their text, for the duplicate check. */
static int
key_cmp(const void *a, const void *b)
{
	const struct jsontext_span	*x = a, *y = b;
	size_t				 n = x->len < y->len ? x->len : y->len;
	int				 c;

	if ((c = memcmp(x->p, y->p, n)) != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * Check a container once it is complete: it left the stack, was fetched
 * through the memo, or is the result. Only dicts have anything to check.
 */
int
dec_finish(struct dec *d, const struct pval *v)
{
	struct pcont		*c;
	struct jsontext_span	*keys;
	size_t			 i, n;
	int			 rc = 0;

	if (v->type != PT_DICT || d->conts[v->ref].finished)
		return 0;
	c = &d->conts[v->ref];
	c->finished = 1;
	n = c->n / 2;
	if (n == 1 && c->items[0].len == 8 &&
	    memcmp(d->arena.data + c->items[0].ref, "\"$bytes\"", 8) == 0)
		return dec_fail(d, "a dict whose only key is \"$bytes\" is "
		    "reserved: it stands for bytes in mpsup's JSON");
	if (n < 2)
		return 0;
	keys = xreallocarray(NULL, n, sizeof *keys);
	for (i = 0; i < n; i++) {
		keys[i].p = d->arena.data + c->items[2 * i].ref;
		keys[i].len = c->items[2 * i].len;
	}
	qsort(keys, n, sizeof *keys, key_cmp);
	for (i = 1; i < n; i++) {
		if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
			rc = dec_fail(d, "duplicate dict key %.*s",
			    (int)(keys[i].len > 64 ? 64 : keys[i].len),
			    keys[i].p);
			break;
		}
	}
	free(keys);
	return rc;
}

/*
 * Add items[0..n), which the caller then pops, to the container tv on the
 * stack. The items leave the stack, so any container among them is
 * complete; only the separators make the stack's text grow.
 */
static int
dec_add(struct dec *d, const struct pval *tv, const struct pval *items,
    size_t n, enum ptype want)
{
	struct pcont	*c;
	size_t		 i, before, moved = 0;
	int		 depth;

	if (tv->type != want)
		return dec_fail(d, "%s at offset %zu: the target is a %s, not "
		    "a %s", dec_op_name(d->op), d->op_off, ptype_names[tv->type],
		    ptype_names[want]);
	c = &d->conts[tv->ref];
	before = c->size;
	if (c->sealed)
		return dec_fail(d, "self-referencing structure: %s at offset "
		    "%zu adds to a %s that was already fetched from the memo "
		    "(JSON cannot hold a cycle)", dec_op_name(d->op), d->op_off,
		    ptype_names[tv->type]);
	for (i = 0; i < n; i++) {
		if (want == PT_DICT && i % 2 == 0 && items[i].type != PT_STR)
			return dec_fail(d, "dict key must be a string, not %s "
			    "(%s at offset %zu)", ptype_names[items[i].type],
			    dec_op_name(d->op), d->op_off);
		if ((want == PT_SET || want == PT_FROZENSET) &&
		    !val_hashable(d, &items[i]))
			return dec_fail(d, "unhashable %s in a set (%s at "
			    "offset %zu)", ptype_names[items[i].type],
			    dec_op_name(d->op), d->op_off);
		if (dec_finish(d, &items[i]) == -1)
			return -1;
		if ((depth = val_depth(d, &items[i]) + 1) > PICKLE_MAX_DEPTH)
			return dec_fail(d, "nesting too deep: more than %d "
			    "levels (%s at offset %zu)", PICKLE_MAX_DEPTH,
			    dec_op_name(d->op), d->op_off);
		if (depth > c->depth)
			c->depth = depth;
		if (!val_hashable(d, &items[i]))
			c->hashable = 0;
		moved += val_size(d, &items[i]);
	}
	/* Each member brings a ',' or a ':' but the first. */
	c->size += moved + n - (c->n == 0 && n > 0);
	if (c->cap < c->n + n) {
		c->cap = c->n + n > 2 * c->cap ? c->n + n : 2 * c->cap;
		c->items = xreallocarray(c->items, c->cap, sizeof *c->items);
	}
	d->items_held += n;
	if (n > 0)
		memcpy(c->items + c->n, items, n * sizeof *items);
	c->n += n;
	d->total -= moved;
	if (dec_room(d, c->size - before) == -1)
		return -1;
	d->total += c->size - before;
	return 0;
}

/* The stack height below which the innermost MARK forbids popping. */
static size_t
dec_fence(const struct dec *d)
{
	return d->nmarks > 0 ? d->marks[d->nmarks - 1] : 0;
}

/* Fail unless n values sit above the innermost MARK. */
int
dec_have(struct dec *d, size_t n)
{
	if (d->sn - dec_fence(d) >= n)
		return 0;
	return dec_fail(d, "stack underflow: %s at offset %zu needs %zu "
	    "value%s", dec_op_name(d->op), d->op_off, n, n == 1 ? "" : "s");
}

/* Pop the innermost MARK into *m, with at least one value under it. */
int
dec_pop_mark(struct dec *d, size_t *m, int need_below)
{
	*m = 0;
	if (d->nmarks == 0)
		return dec_fail(d, "%s at offset %zu without a MARK",
		    dec_op_name(d->op), d->op_off);
	*m = d->marks[--d->nmarks];
	if (need_below && *m <= dec_fence(d))
		return dec_fail(d, "stack underflow: %s at offset %zu has no "
		    "container below its MARK", dec_op_name(d->op), d->op_off);
	return 0;
}

/* APPEND, SETITEM: add the top 1 or 2 values to the value below them. */
int
dec_additem(struct dec *d, size_t n, enum ptype want)
{
	if (dec_have(d, n + 1) == -1 || dec_add(d, &d->stack[d->sn - n - 1],
	    &d->stack[d->sn - n], n, want) == -1)
		return -1;
	d->sn -= n;
	return 0;
}

/* APPENDS, SETITEMS, ADDITEMS: add what is above the MARK. */
int
dec_additems(struct dec *d, enum ptype want)
{
	size_t	m;

	if (dec_pop_mark(d, &m, 1) == -1)
		return -1;
	if (want == PT_DICT && (d->sn - m) % 2 != 0)
		return dec_fail(d, "SETITEMS at offset %zu with an odd number "
		    "of values", d->op_off);
	if (dec_add(d, &d->stack[m - 1], &d->stack[m], d->sn - m, want) == -1)
		return -1;
	d->sn = m;
	return 0;
}

/* TUPLE*, FROZENSET: replace the values from the stack height m up. */
int
dec_build(struct dec *d, size_t m, enum ptype type)
{
	struct pval	v;

	v.ref = cont_new(d);
	v.len = 0;
	v.type = type;
	if (dec_room(d, 2) == -1)
		return -1;
	d->total += 2;
	d->stack = dec_grow(d->stack, &d->scap, m, sizeof *d->stack);
	if (dec_add(d, &v, &d->stack[m], d->sn - m, type) == -1)
		return -1;
	d->stack[m] = v;
	d->sn = m + 1;
	d->pushes++;
	return 0;
}

/* Store the top of the stack at memo index i (dense: at most one past). */
int
dec_put(struct dec *d, uint64_t i)
{
	if (dec_have(d, 1) == -1)
		return -1;
	if (i > d->mn)
		return dec_fail(d, "%s at offset %zu: memo index %" PRIu64
		    " skips ahead of the %zu entries so far", dec_op_name(d->op),
		    d->op_off, i, d->mn);
	if (i == d->mn) {
		if (d->mn >= PICKLE_MAX_MEMO || d->mn >= d->pushes)
			return dec_fail(d, "memo too large: more entries than "
			    "values (%s at offset %zu)", dec_op_name(d->op),
			    d->op_off);
		d->memo = dec_grow(d->memo, &d->mcap, d->mn, sizeof *d->memo);
		d->mn++;
	}
	d->memo[i] = d->stack[d->sn - 1];
	return 0;
}

/* Push memo entry i; a container fetched this way may no longer grow. */
int
dec_get(struct dec *d, uint64_t i)
{
	struct pval	v;

	if (i >= d->mn)
		return dec_fail(d, "%s at offset %zu: memo index %" PRIu64
		    " is not defined", dec_op_name(d->op), d->op_off, i);
	v = d->memo[i];
	if (IS_CONTAINER(v.type)) {
		if (dec_finish(d, &v) == -1)
			return -1;
		d->conts[v.ref].sealed = 1;
	}
	return dec_push(d, &v);
}
