/*
 * Internals of the pickle decoder (see pickle.h), shared by its three
 * parts: pickle_decode.c runs the machine (the opcode table, the stack,
 * the output), pickle_scalar.c turns scalars into JSON text and
 * pickle_container.c builds containers, MARKs and the memo. Included only
 * by those three files.
 */
#ifndef MPSUP_PICKLE_DEC_H
#define MPSUP_PICKLE_DEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "ipc/pickle.h"

/* Python types the decoder can meet; containers come last. */
enum ptype {
	PT_NONE, PT_BOOL, PT_INT, PT_FLOAT, PT_STR, PT_BYTES, PT_BYTEARRAY,
	PT_LIST, PT_TUPLE, PT_DICT, PT_SET, PT_FROZENSET,
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
	size_t			 max_mem;	/* what decoding may hold */
	size_t			 items_held;	/* members of every container */
	int			 too_large;	/* max_mem was hit */
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

/* The machine (pickle_decode.c). */
int	 dec_fail(struct dec *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const char *dec_op_name(unsigned char op);
int	 dec_need(struct dec *, uint64_t n);
int	 dec_room(struct dec *, size_t n);
void	*dec_grow(void *p, size_t *cap, size_t n, size_t size);
size_t	 val_size(const struct dec *, const struct pval *);
int	 dec_push(struct dec *, const struct pval *);
int	 dec_push_text(struct dec *, enum ptype, size_t start);

/* Scalars (pickle_scalar.c): each reads its argument at d->p. */
int	 dec_int64(struct dec *, int64_t);
int	 dec_long(struct dec *, size_t n);
int	 dec_float(struct dec *);
int	 dec_str(struct dec *, uint64_t n);
int	 dec_bytes(struct dec *, uint64_t n, enum ptype);

/* Containers, MARKs and the memo (pickle_container.c). */
int	 dec_push_container(struct dec *, enum ptype);
int	 dec_finish(struct dec *, const struct pval *);
int	 dec_have(struct dec *, size_t n);
int	 dec_pop_mark(struct dec *, size_t *m, int need_below);
int	 dec_additem(struct dec *, size_t n, enum ptype want);
int	 dec_additems(struct dec *, enum ptype want);
int	 dec_build(struct dec *, size_t m, enum ptype);
int	 dec_put(struct dec *, uint64_t i);
int	 dec_get(struct dec *, uint64_t i);

#endif
