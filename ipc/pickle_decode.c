/*
 * Pickle -> JSON text: the decoder (see pickle.h).
 *
 * The decoder runs the pickle machine over a model that can hold nothing
 * but data. A scalar becomes its JSON text at once, in an arena; a
 * container is a list of such values. Nothing is printed until STOP, and
 * then a value shared through the memo is printed once per reference, so
 * the running size of everything on the stack (each value there ends up
 * in the output) is what bounds the text, a memo "billion laughs"
 * included. Cycles cannot be built: a container fetched through the memo
 * is sealed and adding to a sealed container is refused. CPython fetches
 * only complete objects, or an object still under construction, which is
 * a cycle, so no acyclic pickle it writes is refused.
 *
 * Protocol details follow reference/mp-connection-protocol.md section 4:
 * little-endian arguments except BINFLOAT's big-endian double, MARKs on a
 * separate stack, MEMOIZE taking the next free memo index.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "ipc/pickle_impl.h"

/* What the decoder does with an opcode. */
enum { OPC_UNKNOWN, OPC_DATA, OPC_CODE, OPC_LEGACY };

/* Every opcode of protocols 0 to 5, for the allow-list and for messages. */
static const struct {
	const char	*name;
	unsigned char	 cls;
} opcodes[256] = {
	[0x28] = { "MARK", OPC_DATA },		[0x29] = { "EMPTY_TUPLE", OPC_DATA },
	[0x2e] = { "STOP", OPC_DATA },		[0x30] = { "POP", OPC_LEGACY },
	[0x31] = { "POP_MARK", OPC_LEGACY },	[0x32] = { "DUP", OPC_LEGACY },
	[0x42] = { "BINBYTES", OPC_DATA },	[0x43] = { "SHORT_BINBYTES", OPC_DATA },
	[0x46] = { "FLOAT", OPC_LEGACY },	[0x47] = { "BINFLOAT", OPC_DATA },
	[0x49] = { "INT", OPC_LEGACY },		[0x4a] = { "BININT", OPC_DATA },
	[0x4b] = { "BININT1", OPC_DATA },	[0x4c] = { "LONG", OPC_LEGACY },
	[0x4d] = { "BININT2", OPC_DATA },	[0x4e] = { "NONE", OPC_DATA },
	[0x50] = { "PERSID", OPC_CODE },	[0x51] = { "BINPERSID", OPC_CODE },
	[0x52] = { "REDUCE", OPC_CODE },	[0x53] = { "STRING", OPC_LEGACY },
	[0x54] = { "BINSTRING", OPC_LEGACY },	[0x55] = { "SHORT_BINSTRING", OPC_LEGACY },
	[0x56] = { "UNICODE", OPC_LEGACY },	[0x58] = { "BINUNICODE", OPC_DATA },
	[0x5d] = { "EMPTY_LIST", OPC_DATA },	[0x61] = { "APPEND", OPC_DATA },
	[0x62] = { "BUILD", OPC_CODE },		[0x63] = { "GLOBAL", OPC_CODE },
	[0x64] = { "DICT", OPC_LEGACY },	[0x65] = { "APPENDS", OPC_DATA },
	[0x67] = { "GET", OPC_LEGACY },		[0x68] = { "BINGET", OPC_DATA },
	[0x69] = { "INST", OPC_CODE },		[0x6a] = { "LONG_BINGET", OPC_DATA },
	[0x6c] = { "LIST", OPC_LEGACY },	[0x6f] = { "OBJ", OPC_CODE },
	[0x70] = { "PUT", OPC_LEGACY },		[0x71] = { "BINPUT", OPC_DATA },
	[0x72] = { "LONG_BINPUT", OPC_DATA },	[0x73] = { "SETITEM", OPC_DATA },
	[0x74] = { "TUPLE", OPC_DATA },		[0x75] = { "SETITEMS", OPC_DATA },
	[0x7d] = { "EMPTY_DICT", OPC_DATA },	[0x80] = { "PROTO", OPC_DATA },
	[0x81] = { "NEWOBJ", OPC_CODE },	[0x82] = { "EXT1", OPC_CODE },
	[0x83] = { "EXT2", OPC_CODE },		[0x84] = { "EXT4", OPC_CODE },
	[0x85] = { "TUPLE1", OPC_DATA },	[0x86] = { "TUPLE2", OPC_DATA },
	[0x87] = { "TUPLE3", OPC_DATA },	[0x88] = { "NEWTRUE", OPC_DATA },
	[0x89] = { "NEWFALSE", OPC_DATA },	[0x8a] = { "LONG1", OPC_DATA },
	[0x8b] = { "LONG4", OPC_DATA },		[0x8c] = { "SHORT_BINUNICODE", OPC_DATA },
	[0x8d] = { "BINUNICODE8", OPC_DATA },	[0x8e] = { "BINBYTES8", OPC_DATA },
	[0x8f] = { "EMPTY_SET", OPC_DATA },	[0x90] = { "ADDITEMS", OPC_DATA },
	[0x91] = { "FROZENSET", OPC_DATA },	[0x92] = { "NEWOBJ_EX", OPC_CODE },
	[0x93] = { "STACK_GLOBAL", OPC_CODE },	[0x94] = { "MEMOIZE", OPC_DATA },
	[0x95] = { "FRAME", OPC_DATA },		[0x96] = { "BYTEARRAY8", OPC_DATA },
	[0x97] = { "NEXT_BUFFER", OPC_CODE },	[0x98] = { "READONLY_BUFFER", OPC_CODE },
};

/* Python types the decoder can meet; containers come last. */
enum ptype {
	PT_NONE, PT_BOOL, PT_INT, PT_FLOAT, PT_STR, PT_BYTES, PT_BYTEARRAY,
	PT_LIST, PT_TUPLE, PT_DICT, PT_SET, PT_FROZENSET,
};

static const char *const ptype_names[] = {
	"None", "bool", "int", "float", "str", "bytes", "bytearray", "list",
	"tuple", "dict", "set", "frozenset",
};

#define IS_CONTAINER(t)	((t) >= PT_LIST)

/* A value on the stack, in the memo or in a container. */
struct pval {
	uint64_t	ref;	/* scalar: offset of its text in the arena;
				   container: index in dec.conts */
	uint32_t	len;	/* scalar: length of its text */
	uint8_t		type;	/* enum ptype */
};

/* A container; a dict holds key, value, key, value ... */
struct pcont {
	struct pval	*items;
	size_t		 n, cap;
	size_t		 size;		/* length of its JSON text */
	int		 depth;		/* 1 + the depth of its deepest member */
	int		 hashable;	/* for tuples: every member is */
	int		 sealed;	/* fetched through the memo: frozen */
	int		 finished;	/* complete and checked */
};

struct dec {
	const unsigned char	*start, *p, *end;
	size_t			 op_off;	/* of the opcode being run */
	unsigned char		 op;
	size_t			 max_out;
	size_t			 total;		/* JSON bytes of the stack */
	size_t			 pushes;
	struct buf		 arena;		/* scalars' JSON text */
	struct pval		*stack, *memo;
	size_t			 sn, scap, mn, mcap;
	struct pcont		*conts;
	size_t			 cn, ccap;
	size_t			 marks[PICKLE_MAX_DEPTH];	/* stack heights */
	int			 nmarks;
	char			*err;
	size_t			 errlen;
};

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Make room for one more element in a growable array. */
static void *
grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	return xreallocarray(p, *cap, size);
}

static int	dec_fail(struct dec *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Fill the caller's error buffer; returns -1. */
static int
dec_fail(struct dec *d, const char *fmt, ...)
{
	va_list	ap;

	if (d->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *
op_name(unsigned char op)
{
	return opcodes[op].name != NULL ? opcodes[op].name : "?";
}

/* Fail unless n more argument bytes are left. */
static int
dec_need(struct dec *d, uint64_t n)
{
	if ((uint64_t)(d->end - d->p) >= n)
		return 0;
	return dec_fail(d, "truncated pickle: %s at offset %zu needs %" PRIu64
	    " bytes, %zu left", op_name(d->op), d->op_off, n,
	    (size_t)(d->end - d->p));
}

/* Read an n-byte little-endian unsigned argument. */
static uint64_t
dec_le(struct dec *d, int n)
{
	uint64_t	v = 0;
	int		i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | d->p[i];
	d->p += n;
	return v;
}

/* Fail unless n more bytes of JSON fit under the cap. */
static int
dec_room(struct dec *d, size_t n)
{
	if (n <= d->max_out - d->total)
		return 0;
	return dec_fail(d, "output too large: the JSON text would exceed %zu "
	    "bytes (at %s, offset %zu)", d->max_out, op_name(d->op), d->op_off);
}

static size_t
val_size(const struct dec *d, const struct pval *v)
{
	return IS_CONTAINER(v->type) ? d->conts[v->ref].size : v->len;
}

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

/* Push a value, counting its text against the cap. */
static int
dec_push(struct dec *d, const struct pval *v)
{
	size_t	size = val_size(d, v);

	if (dec_room(d, size) == -1)
		return -1;
	d->total += size;
	d->stack = grow(d->stack, &d->scap, d->sn, sizeof *d->stack);
	d->stack[d->sn++] = *v;
	d->pushes++;
	return 0;
}

/* Push the scalar whose text was appended to the arena from start. */
static int
dec_push_text(struct dec *d, enum ptype type, size_t start)
{
	struct pval	v;

	/* Checked before it is narrowed: max_out fits in 32 bits. */
	if (dec_room(d, d->arena.len - start) == -1)
		return -1;
	v.ref = start;
	v.len = (uint32_t)(d->arena.len - start);
	v.type = type;
	return dec_push(d, &v);
}

static size_t
cont_new(struct dec *d)
{
	struct pcont	*c;

	d->conts = grow(d->conts, &d->ccap, d->cn, sizeof *d->conts);
	c = &d->conts[d->cn];
	memset(c, 0, sizeof *c);
	c->size = 2;
	c->depth = 1;
	c->hashable = 1;
	return d->cn++;
}

static int
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
static int
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
		    "a %s", op_name(d->op), d->op_off, ptype_names[tv->type],
		    ptype_names[want]);
	c = &d->conts[tv->ref];
	before = c->size;
	if (c->sealed)
		return dec_fail(d, "self-referencing structure: %s at offset "
		    "%zu adds to a %s that was already fetched from the memo "
		    "(JSON cannot hold a cycle)", op_name(d->op), d->op_off,
		    ptype_names[tv->type]);
	for (i = 0; i < n; i++) {
		if (want == PT_DICT && i % 2 == 0 && items[i].type != PT_STR)
			return dec_fail(d, "dict key must be a string, not %s "
			    "(%s at offset %zu)", ptype_names[items[i].type],
			    op_name(d->op), d->op_off);
		if ((want == PT_SET || want == PT_FROZENSET) &&
		    !val_hashable(d, &items[i]))
			return dec_fail(d, "unhashable %s in a set (%s at "
			    "offset %zu)", ptype_names[items[i].type],
			    op_name(d->op), d->op_off);
		if (dec_finish(d, &items[i]) == -1)
			return -1;
		if ((depth = val_depth(d, &items[i]) + 1) > PICKLE_MAX_DEPTH)
			return dec_fail(d, "nesting too deep: more than %d "
			    "levels (%s at offset %zu)", PICKLE_MAX_DEPTH,
			    op_name(d->op), d->op_off);
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
static int
dec_have(struct dec *d, size_t n)
{
	if (d->sn - dec_fence(d) >= n)
		return 0;
	return dec_fail(d, "stack underflow: %s at offset %zu needs %zu "
	    "value%s", op_name(d->op), d->op_off, n, n == 1 ? "" : "s");
}

/* Pop the innermost MARK into *m, with at least one value under it. */
static int
dec_pop_mark(struct dec *d, size_t *m, int need_below)
{
	*m = 0;
	if (d->nmarks == 0)
		return dec_fail(d, "%s at offset %zu without a MARK",
		    op_name(d->op), d->op_off);
	*m = d->marks[--d->nmarks];
	if (need_below && *m <= dec_fence(d))
		return dec_fail(d, "stack underflow: %s at offset %zu has no "
		    "container below its MARK", op_name(d->op), d->op_off);
	return 0;
}

/* APPEND, SETITEM: add the top 1 or 2 values to the value below them. */
static int
dec_additem(struct dec *d, size_t n, enum ptype want)
{
	if (dec_have(d, n + 1) == -1 || dec_add(d, &d->stack[d->sn - n - 1],
	    &d->stack[d->sn - n], n, want) == -1)
		return -1;
	d->sn -= n;
	return 0;
}

/* APPENDS, SETITEMS, ADDITEMS: add what is above the MARK. */
static int
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
static int
dec_build(struct dec *d, size_t m, enum ptype type)
{
	struct pval	v;

	v.ref = cont_new(d);
	v.len = 0;
	v.type = type;
	if (dec_room(d, 2) == -1)
		return -1;
	d->total += 2;
	d->stack = grow(d->stack, &d->scap, m, sizeof *d->stack);
	if (dec_add(d, &v, &d->stack[m], d->sn - m, type) == -1)
		return -1;
	d->stack[m] = v;
	d->sn = m + 1;
	d->pushes++;
	return 0;
}

/* Store the top of the stack at memo index i (dense: at most one past). */
static int
dec_put(struct dec *d, uint64_t i)
{
	if (dec_have(d, 1) == -1)
		return -1;
	if (i > d->mn)
		return dec_fail(d, "%s at offset %zu: memo index %" PRIu64
		    " skips ahead of the %zu entries so far", op_name(d->op),
		    d->op_off, i, d->mn);
	if (i == d->mn) {
		if (d->mn >= PICKLE_MAX_MEMO || d->mn >= d->pushes)
			return dec_fail(d, "memo too large: more entries than "
			    "values (%s at offset %zu)", op_name(d->op),
			    d->op_off);
		d->memo = grow(d->memo, &d->mcap, d->mn, sizeof *d->memo);
		d->mn++;
	}
	d->memo[i] = d->stack[d->sn - 1];
	return 0;
}

/* Push memo entry i; a container fetched this way may no longer grow. */
static int
dec_get(struct dec *d, uint64_t i)
{
	struct pval	v;

	if (i >= d->mn)
		return dec_fail(d, "%s at offset %zu: memo index %" PRIu64
		    " is not defined", op_name(d->op), d->op_off, i);
	v = d->memo[i];
	if (IS_CONTAINER(v.type)) {
		if (dec_finish(d, &v) == -1)
			return -1;
		d->conts[v.ref].sealed = 1;
	}
	return dec_push(d, &v);
}

static int
dec_int64(struct dec *d, int64_t v)
{
	char		 text[24], *p = text + sizeof text;
	uint64_t	 u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t		 start = d->arena.len;

	/* Not printf: this runs once per int, and lists of ints are common. */
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	buf_append(&d->arena, p, text + sizeof text - p);
	return dec_push_text(d, PT_INT, start);
}

/* Drop the sign-extension bytes of a little-endian two's complement. */
size_t
pickle_long_minimal(const unsigned char *b, size_t n)
{
	while (n > 1 && ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) ||
	    (b[n - 1] == 0xff && (b[n - 2] & 0x80))))
		n--;
	return n;
}

/* LONG1, LONG4: n bytes of little-endian two's complement at d->p. */
static int
dec_long(struct dec *d, size_t n)
{
	unsigned char	 mag[PICKLE_INT_MAX_BYTES];
	uint32_t	 limbs[PICKLE_INT_MAX_BYTES / 3 + 1];	/* base 1e9 */
	const unsigned char *b = d->p;
	uint64_t	 u, cur, rem;
	size_t		 i, nl = 0, start;
	unsigned int	 x, carry = 1;
	int		 neg;

	d->p += n;
	if ((n = pickle_long_minimal(b, n)) == 0)
		return dec_int64(d, 0);
	neg = b[n - 1] >> 7;
	if (n <= 8) {
		u = neg ? UINT64_MAX : 0;
		for (i = n; i-- > 0;)
			u = u << 8 | b[i];
		return dec_int64(d, neg ? -(int64_t)(~u) - 1 : (int64_t)u);
	}
	if (n > PICKLE_INT_MAX_BYTES)
		return dec_fail(d, "integer too large: more than %d bits (%s "
		    "at offset %zu)", PICKLE_INT_MAX_BYTES * 8, op_name(d->op),
		    d->op_off);
	for (i = 0; i < n; i++) {
		x = neg ? (~b[i] & 0xffu) + carry : b[i];
		mag[i] = x & 0xff;
		carry = x >> 8;
	}
	while (n > 0 && mag[n - 1] == 0)
		n--;
	while (n > 0) {
		rem = 0;
		for (i = n; i-- > 0;) {
			cur = rem << 8 | mag[i];
			mag[i] = (unsigned char)(cur / 1000000000);
			rem = cur % 1000000000;
		}
		limbs[nl++] = (uint32_t)rem;
		while (n > 0 && mag[n - 1] == 0)
			n--;
	}
	start = d->arena.len;
	buf_appendf(&d->arena, "%s%" PRIu32, neg ? "-" : "", limbs[nl - 1]);
	for (i = nl - 1; i-- > 0;)
		buf_appendf(&d->arena, "%09" PRIu32, limbs[i]);
	return dec_push_text(d, PT_INT, start);
}

/* Shortest text that reads back as v, always with a '.' or an exponent. */
static void
float_text(double v, char *s, size_t size)
{
	int	prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(s, size, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(s, size, "%.17g", v);
	if (strpbrk(s, ".e") == NULL)
		strncat(s, ".0", size - strlen(s) - 1);
}

/* BINFLOAT: a big-endian double. */
static int
dec_float(struct dec *d)
{
	char		text[40];
	uint64_t	bits = 0;
	double		v;
	size_t		start;
	int		i;

	for (i = 0; i < 8; i++)
		bits = bits << 8 | *d->p++;
	memcpy(&v, &bits, sizeof v);
	if (!isfinite(v))
		return dec_fail(d, "float %s at offset %zu cannot be represented "
		    "in JSON", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf",
		    d->op_off);
	float_text(v, text, sizeof text);
	start = d->arena.len;
	buf_append_str(&d->arena, text);
	return dec_push_text(d, PT_FLOAT, start);
}

/* Strict UTF-8: shortest forms, no surrogates, nothing above U+10FFFF. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t		i = 0, k, j;
	uint32_t	cp, least;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			k = 1;
			cp = s[i] & 0x1f;
			least = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			k = 2;
			cp = s[i] & 0x0f;
			least = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			k = 3;
			cp = s[i] & 0x07;
			least = 0x10000;
		} else
			return 0;
		if (n - i - 1 < k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < least || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A str of n bytes at d->p. */
static int
dec_str(struct dec *d, uint64_t n)
{
	size_t	start;

	if (dec_need(d, n) == -1)
		return -1;
	if (!utf8_valid(d->p, n))
		return dec_fail(d, "str at offset %zu is not valid UTF-8 (lone "
		    "surrogates are refused too)", d->op_off);
	if (dec_room(d, n + 2) == -1)
		return -1;
	start = d->arena.len;
	jsontext_string_append(&d->arena, (const char *)d->p, n);
	d->p += n;
	return dec_push_text(d, PT_STR, start);
}

/* Append standard, padded base64 of s[0..n). */
static void
b64_append(struct buf *b, const unsigned char *s, size_t n)
{
	char		*o;
	uint32_t	 v;
	size_t		 i;

	buf_reserve(b, (n + 2) / 3 * 4);
	o = b->data + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (i < n) {
		v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	b->len = o - b->data;
}

/* Bytes or a bytearray of n bytes at d->p, as the tagged object. */
static int
dec_bytes(struct dec *d, uint64_t n, enum ptype type)
{
	size_t	start;

	if (dec_need(d, n) == -1 || dec_room(d, n / 3 * 4 + 16) == -1)
		return -1;
	start = d->arena.len;
	buf_append_str(&d->arena, "{\"$bytes\":\"");
	b64_append(&d->arena, d->p, n);
	buf_append_str(&d->arena, "\"}");
	d->p += n;
	return dec_push_text(d, type, start);
}

/* Refuse an opcode that is not plain data, naming it. */
static int
dec_refuse(struct dec *d)
{
	switch (opcodes[d->op].cls) {
	case OPC_CODE:
		return dec_fail(d, "opcode %s (0x%02x) at offset %zu is not "
		    "allowed: only plain data (None, bool, int, float, str, "
		    "bytes, list, tuple, dict) is accepted", op_name(d->op),
		    d->op, d->op_off);
	case OPC_LEGACY:
		return dec_fail(d, "opcode %s (0x%02x) at offset %zu is not "
		    "supported: only the opcodes Python 3 writes for plain data "
		    "at protocols 2 to 5 are accepted", op_name(d->op), d->op,
		    d->op_off);
	default:
		return dec_fail(d, "unknown opcode 0x%02x at offset %zu",
		    d->op, d->op_off);
	}
}

/* Run one opcode; 1 at STOP. */
static int
dec_step(struct dec *d)
{
	size_t		m;
	uint64_t	n;

	d->op_off = d->p - d->start;
	d->op = *d->p++;
	if (opcodes[d->op].cls != OPC_DATA)
		return dec_refuse(d);
	if (d->op_off == 0 && d->op != OP_PROTO)
		return dec_fail(d, "not a pickle of protocol 2 or later: it "
		    "must start with PROTO (0x80), not %s", op_name(d->op));
	switch (d->op) {
	case OP_PROTO:
		if (d->op_off != 0)
			return dec_fail(d, "PROTO at offset %zu: only allowed "
			    "first", d->op_off);
		if (dec_need(d, 1) == -1)
			return -1;
		if (*d->p < 2 || *d->p > 5)
			return dec_fail(d, "unsupported pickle protocol %u "
			    "(2 to 5 are accepted)", *d->p);
		d->p++;
		return 0;
	case OP_FRAME:
		/* Advisory: check it fits, then ignore it. */
		if (dec_need(d, 8) == -1 || dec_need(d, dec_le(d, 8)) == -1)
			return -1;
		return 0;
	case OP_STOP:
		if (d->nmarks > 0 || d->sn != 1)
			return dec_fail(d, "STOP at offset %zu with %zu values "
			    "and %d MARKs on the stack (want 1 value)",
			    d->op_off, d->sn, d->nmarks);
		if (d->p != d->end)
			return dec_fail(d, "%zu bytes after STOP at offset %zu",
			    (size_t)(d->end - d->p), d->op_off);
		return dec_finish(d, &d->stack[0]) == -1 ? -1 : 1;
	case OP_NONE:
		buf_append_str(&d->arena, "null");
		return dec_push_text(d, PT_NONE, d->arena.len - 4);
	case OP_NEWTRUE:
		buf_append_str(&d->arena, "true");
		return dec_push_text(d, PT_BOOL, d->arena.len - 4);
	case OP_NEWFALSE:
		buf_append_str(&d->arena, "false");
		return dec_push_text(d, PT_BOOL, d->arena.len - 5);
	case OP_BININT1:
		return dec_need(d, 1) == -1 ? -1 : dec_int64(d, dec_le(d, 1));
	case OP_BININT2:
		return dec_need(d, 2) == -1 ? -1 : dec_int64(d, dec_le(d, 2));
	case OP_BININT:
		if (dec_need(d, 4) == -1)
			return -1;
		return dec_int64(d, (int32_t)(uint32_t)dec_le(d, 4));
	case OP_LONG1:
		if (dec_need(d, 1) == -1 || dec_need(d, (n = dec_le(d, 1))) == -1)
			return -1;
		return dec_long(d, n);
	case OP_LONG4:
		if (dec_need(d, 4) == -1)
			return -1;
		if ((n = dec_le(d, 4)) > INT32_MAX)
			return dec_fail(d, "LONG4 at offset %zu with a negative "
			    "length", d->op_off);
		return dec_need(d, n) == -1 ? -1 : dec_long(d, n);
	case OP_BINFLOAT:
		return dec_need(d, 8) == -1 ? -1 : dec_float(d);
	case OP_SHORT_BINUNICODE:
		return dec_need(d, 1) == -1 ? -1 : dec_str(d, dec_le(d, 1));
	case OP_BINUNICODE:
		return dec_need(d, 4) == -1 ? -1 : dec_str(d, dec_le(d, 4));
	case OP_BINUNICODE8:
		return dec_need(d, 8) == -1 ? -1 : dec_str(d, dec_le(d, 8));
	case OP_SHORT_BINBYTES:
		return dec_need(d, 1) == -1 ? -1 :
		    dec_bytes(d, dec_le(d, 1), PT_BYTES);
	case OP_BINBYTES:
		return dec_need(d, 4) == -1 ? -1 :
		    dec_bytes(d, dec_le(d, 4), PT_BYTES);
	case OP_BINBYTES8:
		return dec_need(d, 8) == -1 ? -1 :
		    dec_bytes(d, dec_le(d, 8), PT_BYTES);
	case OP_BYTEARRAY8:
		return dec_need(d, 8) == -1 ? -1 :
		    dec_bytes(d, dec_le(d, 8), PT_BYTEARRAY);
	case OP_EMPTY_LIST:
		return dec_push_container(d, PT_LIST);
	case OP_EMPTY_DICT:
		return dec_push_container(d, PT_DICT);
	case OP_EMPTY_SET:
		return dec_push_container(d, PT_SET);
	case OP_EMPTY_TUPLE:
		return dec_push_container(d, PT_TUPLE);
	case OP_APPEND:
		return dec_additem(d, 1, PT_LIST);
	case OP_SETITEM:
		return dec_additem(d, 2, PT_DICT);
	case OP_APPENDS:
		return dec_additems(d, PT_LIST);
	case OP_SETITEMS:
		return dec_additems(d, PT_DICT);
	case OP_ADDITEMS:
		return dec_additems(d, PT_SET);
	case OP_TUPLE1:
	case OP_TUPLE2:
	case OP_TUPLE3:
		m = d->op - OP_TUPLE1 + 1;
		if (dec_have(d, m) == -1)
			return -1;
		return dec_build(d, d->sn - m, PT_TUPLE);
	case OP_TUPLE:
	case OP_FROZENSET:
		if (dec_pop_mark(d, &m, 0) == -1)
			return -1;
		return dec_build(d, m, d->op == OP_TUPLE ? PT_TUPLE :
		    PT_FROZENSET);
	case OP_MARK:
		if (d->nmarks == PICKLE_MAX_DEPTH)
			return dec_fail(d, "nesting too deep: more than %d open "
			    "MARKs (offset %zu)", PICKLE_MAX_DEPTH, d->op_off);
		d->marks[d->nmarks++] = d->sn;
		return 0;
	case OP_MEMOIZE:
		return dec_put(d, d->mn);
	case OP_BINPUT:
		return dec_need(d, 1) == -1 ? -1 : dec_put(d, dec_le(d, 1));
	case OP_LONG_BINPUT:
		return dec_need(d, 4) == -1 ? -1 : dec_put(d, dec_le(d, 4));
	case OP_BINGET:
		return dec_need(d, 1) == -1 ? -1 : dec_get(d, dec_le(d, 1));
	case OP_LONG_BINGET:
		return dec_need(d, 4) == -1 ? -1 : dec_get(d, dec_le(d, 4));
	}
	return dec_refuse(d);
}

/* Write the JSON text of v at *o, which has room for all of it. */
static void
dec_emit(const struct dec *d, const struct pval *v, char **o)
{
	const struct pcont	*c;
	size_t			 i;

	if (!IS_CONTAINER(v->type)) {
		memcpy(*o, d->arena.data + v->ref, v->len);
		*o += v->len;
		return;
	}
	c = &d->conts[v->ref];
	*(*o)++ = v->type == PT_DICT ? '{' : '[';
	for (i = 0; i < c->n; i++) {
		if (i > 0)
			*(*o)++ = v->type == PT_DICT && i % 2 ? ':' : ',';
		dec_emit(d, &c->items[i], o);
	}
	*(*o)++ = v->type == PT_DICT ? '}' : ']';
}

int
pickle_to_json(const void *p, size_t len, size_t max_out, struct buf *out,
    char *err, size_t errlen)
{
	struct dec	 d;
	size_t		 i, size;
	char		*o;
	int		 rc;

	memset(&d, 0, sizeof d);
	d.start = d.p = p;
	d.end = d.start + len;
	d.max_out = max_out == 0 ? PICKLE_DEFAULT_MAX_OUT : max_out;
	if (d.max_out > UINT32_MAX)
		d.max_out = UINT32_MAX;
	d.err = err;
	d.errlen = errlen;
	rc = 0;
	while (rc == 0) {
		if (d.p == d.end) {
			rc = len == 0 ? dec_fail(&d, "empty pickle") :
			    dec_fail(&d, "truncated pickle: no STOP after %zu "
			    "bytes", len);
			break;
		}
		rc = dec_step(&d);
	}
	if (rc == 1) {
		size = val_size(&d, &d.stack[0]);
		buf_reserve(out, size);
		o = out->data + out->len;
		dec_emit(&d, &d.stack[0], &o);
		out->len += size;
		rc = 0;
	}
	for (i = 0; i < d.cn; i++)
		free(d.conts[i].items);
	free(d.conts);
	free(d.stack);
	free(d.memo);
	buf_free(&d.arena);
	return rc;
}
