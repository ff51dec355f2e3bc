/*
 * The reply to one batch of `mpsup submit --stdin` (cmd_submit_reply.c),
 * read in a single pass: {"ok":true, ..., "jobs":[record, ...]} (or
 * "ids":[...] without -w) validated as a whole, with each element of the
 * list and, for a record, whether its "state" is "done". Included only by
 * the submit files.
 */
#ifndef MPSUP_CMD_SUBMIT_REPLY_H
#define MPSUP_CMD_SUBMIT_REPLY_H

#include <stddef.h>

/* One element of the list, inside the reply's text. */
struct submit_item {
	const char	*p;
	size_t		 len;
	int		 done;		/* a record whose state is "done" */
};

struct submit_items {
	struct submit_item	*v;
	size_t			 n;
	size_t			 cap;
};

/*
 * Scan msg[0..len): 1 when it is exactly one valid JSON object (as
 * jsontext_valid() has it) whose "ok" is true and whose member list (the
 * last one of that name) is an array; its elements are then in *items,
 * in order, each record's "done" set when records is true. 0 for anything
 * else, and for the rare texts this pass leaves to the general one (a key
 * or a "state" with escapes): the caller then reads the reply the general
 * way, which reports what is wrong with it.
 */
int	submit_reply_scan(struct submit_items *items, const char *msg,
	    size_t len, const char *list, int records);
/* Append an element (the general way's walk fills the same list). */
void	submit_items_add(struct submit_items *, const char *p, size_t len,
	    int done);
void	submit_items_free(struct submit_items *);

#endif
