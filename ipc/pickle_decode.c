/*
 * Pickle -> JSON text: the decoder (see pickle.h). This file runs the
 * machine: the table of opcodes, the stack and the output; the scalars
 * are in pickle_scalar.c, the containers and the memo in
 * pickle_container.c (pickle_dec.h joins the three).
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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/pickle.h"
#include "ipc/pickle_dec.h"
#include "ipc/pickle_impl.h"

/* What the decoder does with an opcode. */
enum { OPC_UNKNOWN, OPC_DATA, OPC_CODE, OPC_LEGACY };

/*
 * Runs one data opcode. arg is the opcode's little-endian argument when
 * the table gives its width, else the table's param.
 */
typedef int (*dec_op_fn)(struct dec *, uint64_t arg);

static int	op_proto(struct dec *, uint64_t);
static int	op_frame(struct dec *, uint64_t);
static int	op_stop(struct dec *, uint64_t);
static int	op_literal(struct dec *, uint64_t);
static int	op_uint(struct dec *, uint64_t);
static int	op_int32(struct dec *, uint64_t);
static int	op_long1(struct dec *, uint64_t);
static int	op_long4(struct dec *, uint64_t);
static int	op_float(struct dec *, uint64_t);
static int	op_str(struct dec *, uint64_t);
static int	op_bytes(struct dec *, uint64_t);
static int	op_bytearray(struct dec *, uint64_t);
static int	op_empty(struct dec *, uint64_t);
static int	op_additem(struct dec *, uint64_t);
static int	op_additems(struct dec *, uint64_t);
static int	op_tuple_n(struct dec *, uint64_t);
static int	op_tuple_mark(struct dec *, uint64_t);
static int	op_mark(struct dec *, uint64_t);
static int	op_memoize(struct dec *, uint64_t);
static int	op_put(struct dec *, uint64_t);
static int	op_get(struct dec *, uint64_t);

/* op_literal's param. */
enum { LIT_NONE, LIT_TRUE, LIT_FALSE };

#define DATA(name, argw, param, run)	{ name, OPC_DATA, argw, param, run }
/* An opcode that is refused, named in the message: no argument, no run. */
#define NOPE(name, kind)		{ name, kind, 0, 0, NULL }

/*
 * Every opcode of protocols 0 to 5, for the allow-list and for messages;
 * the data opcodes with the width of their argument and their handler.
 */
static const struct {
	const char	*name;
	unsigned char	 cls;
	unsigned char	 argw;		/* bytes of argument read for run */
	unsigned char	 param;		/* arg for run when argw is 0 */
	dec_op_fn	 run;
} opcodes[256] = {
	[OP_MARK] =		DATA("MARK", 0, 0, op_mark),
	[OP_EMPTY_TUPLE] =	DATA("EMPTY_TUPLE", 0, PT_TUPLE, op_empty),
	[OP_STOP] =		DATA("STOP", 0, 0, op_stop),
	[OP_BINBYTES] =		DATA("BINBYTES", 4, 0, op_bytes),
	[OP_SHORT_BINBYTES] =	DATA("SHORT_BINBYTES", 1, 0, op_bytes),
	[OP_BINFLOAT] =		DATA("BINFLOAT", 0, 0, op_float),
	[OP_BININT] =		DATA("BININT", 4, 0, op_int32),
	[OP_BININT1] =		DATA("BININT1", 1, 0, op_uint),
	[OP_BININT2] =		DATA("BININT2", 2, 0, op_uint),
	[OP_NONE] =		DATA("NONE", 0, LIT_NONE, op_literal),
	[OP_BINUNICODE] =	DATA("BINUNICODE", 4, 0, op_str),
	[OP_EMPTY_LIST] =	DATA("EMPTY_LIST", 0, PT_LIST, op_empty),
	[OP_APPEND] =		DATA("APPEND", 0, PT_LIST, op_additem),
	[OP_APPENDS] =		DATA("APPENDS", 0, PT_LIST, op_additems),
	[OP_BINGET] =		DATA("BINGET", 1, 0, op_get),
	[OP_LONG_BINGET] =	DATA("LONG_BINGET", 4, 0, op_get),
	[OP_BINPUT] =		DATA("BINPUT", 1, 0, op_put),
	[OP_LONG_BINPUT] =	DATA("LONG_BINPUT", 4, 0, op_put),
	[OP_SETITEM] =		DATA("SETITEM", 0, PT_DICT, op_additem),
	[OP_TUPLE] =		DATA("TUPLE", 0, PT_TUPLE, op_tuple_mark),
	[OP_SETITEMS] =		DATA("SETITEMS", 0, PT_DICT, op_additems),
	[OP_EMPTY_DICT] =	DATA("EMPTY_DICT", 0, PT_DICT, op_empty),
	[OP_PROTO] =		DATA("PROTO", 0, 0, op_proto),
	[OP_TUPLE1] =		DATA("TUPLE1", 0, 1, op_tuple_n),
	[OP_TUPLE2] =		DATA("TUPLE2", 0, 2, op_tuple_n),
	[OP_TUPLE3] =		DATA("TUPLE3", 0, 3, op_tuple_n),
	[OP_NEWTRUE] =		DATA("NEWTRUE", 0, LIT_TRUE, op_literal),
	[OP_NEWFALSE] =		DATA("NEWFALSE", 0, LIT_FALSE, op_literal),
	[OP_LONG1] =		DATA("LONG1", 1, 0, op_long1),
	[OP_LONG4] =		DATA("LONG4", 4, 0, op_long4),
	[OP_SHORT_BINUNICODE] =	DATA("SHORT_BINUNICODE", 1, 0, op_str),
	[OP_BINUNICODE8] =	DATA("BINUNICODE8", 8, 0, op_str),
	[OP_BINBYTES8] =	DATA("BINBYTES8", 8, 0, op_bytes),
	[OP_EMPTY_SET] =	DATA("EMPTY_SET", 0, PT_SET, op_empty),
	[OP_ADDITEMS] =		DATA("ADDITEMS", 0, PT_SET, op_additems),
	[OP_FROZENSET] =	DATA("FROZENSET", 0, PT_FROZENSET, op_tuple_mark),
	[OP_MEMOIZE] =		DATA("MEMOIZE", 0, 0, op_memoize),
	[OP_FRAME] =		DATA("FRAME", 8, 0, op_frame),
	[OP_BYTEARRAY8] =	DATA("BYTEARRAY8", 8, 0, op_bytearray),

	[0x30] =	NOPE("POP", OPC_LEGACY),
	[0x31] =	NOPE("POP_MARK", OPC_LEGACY),
	[0x32] =	NOPE("DUP", OPC_LEGACY),
	[0x46] =	NOPE("FLOAT", OPC_LEGACY),
	[0x49] =	NOPE("INT", OPC_LEGACY),
	[0x4c] =	NOPE("LONG", OPC_LEGACY),
	[0x50] =	NOPE("PERSID", OPC_CODE),
	[0x51] =	NOPE("BINPERSID", OPC_CODE),
	[0x52] =	NOPE("REDUCE", OPC_CODE),
	[0x53] =	NOPE("STRING", OPC_LEGACY),
	[0x54] =	NOPE("BINSTRING", OPC_LEGACY),
	[0x55] =	NOPE("SHORT_BINSTRING", OPC_LEGACY),
	[0x56] =	NOPE("UNICODE", OPC_LEGACY),
	[0x62] =	NOPE("BUILD", OPC_CODE),
	[0x63] =	NOPE("GLOBAL", OPC_CODE),
	[0x64] =	NOPE("DICT", OPC_LEGACY),
	[0x67] =	NOPE("GET", OPC_LEGACY),
	[0x69] =	NOPE("INST", OPC_CODE),
	[0x6c] =	NOPE("LIST", OPC_LEGACY),
	[0x6f] =	NOPE("OBJ", OPC_CODE),
	[0x70] =	NOPE("PUT", OPC_LEGACY),
	[0x81] =	NOPE("NEWOBJ", OPC_CODE),
	[0x82] =	NOPE("EXT1", OPC_CODE),
	[0x83] =	NOPE("EXT2", OPC_CODE),
	[0x84] =	NOPE("EXT4", OPC_CODE),
	[0x92] =	NOPE("NEWOBJ_EX", OPC_CODE),
	[0x93] =	NOPE("STACK_GLOBAL", OPC_CODE),
	[0x97] =	NOPE("NEXT_BUFFER", OPC_CODE),
	[0x98] =	NOPE("READONLY_BUFFER", OPC_CODE),
};

/* Make room for one more element in a growable array. */
void *
dec_grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	return xreallocarray(p, *cap, size);
}

/* Fill the caller's error buffer; returns -1. */
int
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

/* The opcode's name, or "?" for one no protocol defines. */
const char *
dec_op_name(unsigned char op)
{
	return opcodes[op].name != NULL ? opcodes[op].name : "?";
}

/* Fail unless n more argument bytes are left. */
int
dec_need(struct dec *d, uint64_t n)
{
	if ((uint64_t)(d->end - d->p) >= n)
		return 0;
	return dec_fail(d, "truncated pickle: %s at offset %zu needs %" PRIu64
	    " bytes, %zu left", dec_op_name(d->op), d->op_off, n,
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
int
dec_room(struct dec *d, size_t n)
{
	if (n <= d->max_out - d->total)
		return 0;
	return dec_fail(d, "output too large: the JSON text would exceed %zu "
	    "bytes (at %s, offset %zu)", d->max_out, dec_op_name(d->op), d->op_off);
}

size_t
val_size(const struct dec *d, const struct pval *v)
{
	return IS_CONTAINER(v->type) ? d->conts[v->ref].size : v->len;
}

/* Push a value, counting its text against the cap. */
int
dec_push(struct dec *d, const struct pval *v)
{
	size_t	size = val_size(d, v);

	if (dec_room(d, size) == -1)
		return -1;
	d->total += size;
	d->stack = dec_grow(d->stack, &d->scap, d->sn, sizeof *d->stack);
	d->stack[d->sn++] = *v;
	d->pushes++;
	return 0;
}

/* Push the scalar whose text was appended to the arena from start. */
int
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

/* Refuse an opcode that is not plain data, naming it. */
static int
dec_refuse(struct dec *d)
{
	switch (opcodes[d->op].cls) {
	case OPC_CODE:
		return dec_fail(d, "opcode %s (0x%02x) at offset %zu is not "
		    "allowed: only plain data (None, bool, int, float, str, "
		    "bytes, list, tuple, dict) is accepted", dec_op_name(d->op),
		    d->op, d->op_off);
	case OPC_LEGACY:
		return dec_fail(d, "opcode %s (0x%02x) at offset %zu is not "
		    "supported: only the opcodes Python 3 writes for plain data "
		    "at protocols 2 to 5 are accepted", dec_op_name(d->op), d->op,
		    d->op_off);
	default:
		return dec_fail(d, "unknown opcode 0x%02x at offset %zu",
		    d->op, d->op_off);
	}
}

/* PROTO: only first, protocol 2 to 5. */
static int
op_proto(struct dec *d, uint64_t arg)
{
	if (d->op_off != 0)
		return dec_fail(d, "PROTO at offset %zu: only allowed first",
		    d->op_off);
	if (dec_need(d, 1) == -1)
		return -1;
	if (*d->p < 2 || *d->p > 5)
		return dec_fail(d, "unsupported pickle protocol %u (2 to 5 are "
		    "accepted)", *d->p);
	d->p++;
	return 0;
}

/* FRAME: advisory; check it fits, then ignore it. */
static int
op_frame(struct dec *d, uint64_t len)
{
	return dec_need(d, len);
}

/* STOP: exactly one value left and nothing after it; 1 when done. */
static int
op_stop(struct dec *d, uint64_t arg)
{
	if (d->nmarks > 0 || d->sn != 1)
		return dec_fail(d, "STOP at offset %zu with %zu values and %d "
		    "MARKs on the stack (want 1 value)", d->op_off, d->sn,
		    d->nmarks);
	if (d->p != d->end)
		return dec_fail(d, "%zu bytes after STOP at offset %zu",
		    (size_t)(d->end - d->p), d->op_off);
	return dec_finish(d, &d->stack[0]) == -1 ? -1 : 1;
}

/* NONE, NEWTRUE, NEWFALSE. */
static int
op_literal(struct dec *d, uint64_t which)
{
	static const char *const text[] = { "null", "true", "false" };
	size_t			 start = d->arena.len;

	buf_append_str(&d->arena, text[which]);
	return dec_push_text(d, which == LIT_NONE ? PT_NONE : PT_BOOL, start);
}

/* BININT1, BININT2: unsigned. */
static int
op_uint(struct dec *d, uint64_t v)
{
	return dec_int64(d, (int64_t)v);
}

/* BININT: signed 32 bits. */
static int
op_int32(struct dec *d, uint64_t v)
{
	return dec_int64(d, (int32_t)(uint32_t)v);
}

/* LONG1: a length byte, then the int. */
static int
op_long1(struct dec *d, uint64_t len)
{
	return dec_need(d, len) == -1 ? -1 : dec_long(d, len);
}

/* LONG4: a signed 32-bit length, then the int. */
static int
op_long4(struct dec *d, uint64_t len)
{
	if (len > INT32_MAX)
		return dec_fail(d, "LONG4 at offset %zu with a negative length",
		    d->op_off);
	return dec_need(d, len) == -1 ? -1 : dec_long(d, len);
}

/* BINFLOAT: 8 bytes, big-endian. */
static int
op_float(struct dec *d, uint64_t arg)
{
	return dec_need(d, 8) == -1 ? -1 : dec_float(d);
}

/* SHORT_BINUNICODE, BINUNICODE, BINUNICODE8. */
static int
op_str(struct dec *d, uint64_t len)
{
	return dec_str(d, len);
}

/* SHORT_BINBYTES, BINBYTES, BINBYTES8. */
static int
op_bytes(struct dec *d, uint64_t len)
{
	return dec_bytes(d, len, PT_BYTES);
}

/* BYTEARRAY8. */
static int
op_bytearray(struct dec *d, uint64_t len)
{
	return dec_bytes(d, len, PT_BYTEARRAY);
}

/* EMPTY_LIST, EMPTY_DICT, EMPTY_SET, EMPTY_TUPLE. */
static int
op_empty(struct dec *d, uint64_t type)
{
	return dec_push_container(d, (enum ptype)type);
}

/* APPEND (one value onto a list), SETITEM (key and value into a dict). */
static int
op_additem(struct dec *d, uint64_t type)
{
	return dec_additem(d, type == PT_DICT ? 2 : 1, (enum ptype)type);
}

/* APPENDS, SETITEMS, ADDITEMS: what is above the MARK. */
static int
op_additems(struct dec *d, uint64_t type)
{
	return dec_additems(d, (enum ptype)type);
}

/* TUPLE1, TUPLE2, TUPLE3: a tuple of the top n values. */
static int
op_tuple_n(struct dec *d, uint64_t n)
{
	if (dec_have(d, n) == -1)
		return -1;
	return dec_build(d, d->sn - n, PT_TUPLE);
}

/* TUPLE, FROZENSET: of the values above the MARK. */
static int
op_tuple_mark(struct dec *d, uint64_t type)
{
	size_t	m;

	if (dec_pop_mark(d, &m, 0) == -1)
		return -1;
	return dec_build(d, m, (enum ptype)type);
}

/* MARK: remember the stack height. */
static int
op_mark(struct dec *d, uint64_t arg)
{
	if (d->nmarks == PICKLE_MAX_DEPTH)
		return dec_fail(d, "nesting too deep: more than %d open MARKs "
		    "(offset %zu)", PICKLE_MAX_DEPTH, d->op_off);
	d->marks[d->nmarks++] = d->sn;
	return 0;
}

/* MEMOIZE: the top of the stack at the next free memo index. */
static int
op_memoize(struct dec *d, uint64_t arg)
{
	return dec_put(d, d->mn);
}

/* BINPUT, LONG_BINPUT. */
static int
op_put(struct dec *d, uint64_t i)
{
	return dec_put(d, i);
}

/* BINGET, LONG_BINGET. */
static int
op_get(struct dec *d, uint64_t i)
{
	return dec_get(d, i);
}
/* Run one opcode through the table; 1 at STOP. */
static int
dec_step(struct dec *d)
{
	uint64_t	arg;

	d->op_off = d->p - d->start;
	d->op = *d->p++;
	if (opcodes[d->op].cls != OPC_DATA)
		return dec_refuse(d);
	if (d->op_off == 0 && d->op != OP_PROTO)
		return dec_fail(d, "not a pickle of protocol 2 or later: it "
		    "must start with PROTO (0x80), not %s", dec_op_name(d->op));
	arg = opcodes[d->op].param;
	if (opcodes[d->op].argw > 0) {
		if (dec_need(d, opcodes[d->op].argw) == -1)
			return -1;
		arg = dec_le(d, opcodes[d->op].argw);
	}
	return opcodes[d->op].run(d, arg);
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

/* What the allocator adds to each container's own block of members. */
#define PICKLE_MALLOC_OVERHEAD	32

/*
 * What the decoder holds now: the values on the stack, in the memo and in
 * containers, the containers, the scalars' text (what is in use: growth
 * by doubling reserves more, which is not touched until used). Past
 * max_mem the pickle is refused (too large), so a small pickle of many
 * tiny containers cannot cost many times its size.
 */
static int
dec_mem_check(struct dec *d)
{
	size_t	held;

	held = (d->sn + d->mn + d->items_held) * sizeof (struct pval) +
	    d->cn * (sizeof (struct pcont) + PICKLE_MALLOC_OVERHEAD) +
	    d->arena.len;
	if (held <= d->max_mem)
		return 0;
	d->too_large = 1;
	return dec_fail(d, "too large to decode: it would take more than %zu "
	    "bytes (%d times its size plus %zu MiB; at %s, offset %zu): send "
	    "it as JSON or in smaller parts", d->max_mem, PICKLE_MEM_FACTOR,
	    PICKLE_MEM_SLACK >> 20, dec_op_name(d->op), d->op_off);
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
	d.max_mem = len * PICKLE_MEM_FACTOR + PICKLE_MEM_SLACK;
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
		if ((rc = dec_step(&d)) >= 0 && dec_mem_check(&d) == -1)
			rc = -1;
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
	return rc == -1 && d.too_large ? -2 : rc;
}
