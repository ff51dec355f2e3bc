/*
 * A batch reply of `mpsup submit --stdin`, read in one pass (see
 * cmd_submit_reply.h). The general way (cli_conn_reply_parse(), then
 * lookups and an iteration over the list, then a lookup of "state" in each
 * record) went over each record five times: validating, finding the end
 * of the message, skipping it while looking for "ok" and the list, finding
 * its end in the list, and walking its members for "state" (the last of
 * duplicate keys wins, so the walk never stops early). With -w that was
 * most of the client's CPU. Here the validating scan itself splits the
 * list and finds each record's state, with the same limits as
 * jsontext_valid(): every text this accepts, that one accepts, with the
 * same elements and states; anything unusual goes back to the general way.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonscan.h"
#include "common/xmalloc.h"
#include "cli/cmd_submit_reply.h"

/* Levels above a list's element, and above a record's member value. */
#define REPLY_ELEMENT_DEPTH	(JSONSCAN_MAX_DEPTH - 2)
#define REPLY_MEMBER_DEPTH	(JSONSCAN_MAX_DEPTH - 3)

void
submit_items_add(struct submit_items *items, const char *p, size_t len,
    int done)
{
	if (items->n == items->cap) {
		items->cap = items->cap ? items->cap * 2 : 1024;
		items->v = xreallocarray(items->v, items->cap,
		    sizeof *items->v);
	}
	items->v[items->n].p = p;
	items->v[items->n].len = len;
	items->v[items->n++].done = done;
}

void
submit_items_free(struct submit_items *items)
{
	free(items->v);
	memset(items, 0, sizeof *items);
}

/* The bytes of the supervisor's keys: a-z and '_'. */
static const unsigned char reply_word[256] = {
	['_'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/*
 * The key whose opening quote is at p: returns past its closing quote and
 * sets *plain when it has no escape (only such keys are compared here),
 * or NULL if it is not a valid string. The supervisor's keys are lower
 * case words: those are taken at a glance, others get the full check.
 */
static const char *
reply_key(const char *p, const char *end, int *plain)
{
	const char	*q;

	if (p == end || *p != '"')
		return NULL;
	for (q = p + 1; end - q >= 4 && reply_word[(unsigned char)q[0]] &&
	    reply_word[(unsigned char)q[1]] && reply_word[(unsigned char)q[2]] &&
	    reply_word[(unsigned char)q[3]]; q += 4)
		;
	while (q < end && reply_word[(unsigned char)*q])
		q++;
	if (q < end && *q == '"') {
		*plain = 1;
		return q + 1;
	}
	if ((q = jsonscan_string(p, end)) == NULL)
		return NULL;
	*plain = memchr(p + 1, '\\', (size_t)(q - p - 2)) == NULL;
	return q;
}

/* Whether the plain key [p, q) (quotes included) is name. */
static int
reply_key_is(const char *p, const char *q, const char *name, size_t len)
{
	return (size_t)(q - p) == len + 2 && memcmp(p + 1, name, len) == 0;
}

/*
 * The separator after a member or an element at p: returns past a comma
 * (refusing a trailing one) with *more set, or at the closing byte; NULL
 * if neither follows.
 */
static const char *
reply_next(const char *p, const char *end, char close, int *more)
{
	p = jsonscan_ws(p, end);
	*more = 0;
	if (p < end && *p == ',') {
		p = jsonscan_ws(p + 1, end);
		if (p < end && *p == close)
			return NULL;
		*more = 1;
		return p;
	}
	return (p < end && *p == close) ? p : NULL;
}

/*
 * The keys of a record in the order the supervisor writes them
 * (store/job_record.c), quoted; the flow fields, "key", "dead" and
 * "retry_of" come and go, and take the general way.
 */
#define REPLY_KEY(k)	{ "\"" k "\"", sizeof(k) + 1 }
static const struct {
	const char	*quoted;
	size_t		 len;
} reply_keys[] = {
	REPLY_KEY("id"), REPLY_KEY("pool"), REPLY_KEY("client"),
	REPLY_KEY("state"), REPLY_KEY("attempts"), REPLY_KEY("submitted_at"),
	REPLY_KEY("started_at"), REPLY_KEY("finished_at"),
	REPLY_KEY("duration_ms"), REPLY_KEY("worker"), REPLY_KEY("result"),
	REPLY_KEY("error"),
};
#undef REPLY_KEY
#define REPLY_NKEYS	(sizeof reply_keys / sizeof reply_keys[0])

/*
 * The key at p, taken at a glance when it is the one expected next
 * (*next, moved past it); otherwise as reply_key() has it. Returns past
 * it, or NULL; *plain as reply_key() sets it.
 */
static const char *
reply_record_key(const char *p, const char *end, size_t *next, int *plain)
{
	size_t	n;

	if (*next < REPLY_NKEYS && (size_t)(end - p) >= (n =
	    reply_keys[*next].len) && memcmp(p, reply_keys[*next].quoted,
	    n) == 0) {
		(*next)++;
		*plain = 1;
		return p + n;
	}
	*next = REPLY_NKEYS;		/* off the usual order: the general way */
	return reply_key(p, end, plain);
}

/*
 * Scan the record (an object) at p, noting whether its last "state" is
 * "done". Returns past it, or NULL (invalid, or a key or state with an
 * escape: left to the general way).
 */
static const char *
reply_record(const char *p, const char *end, int *done)
{
	struct jsonscan	 js = { REPLY_MEMBER_DEPTH, NULL, 0, JSONSCAN_OK };
	const char	*k, *kq, *q;
	size_t		 next = 0;
	int		 plain, more = 1;

	*done = 0;
	p = jsonscan_ws(p + 1, end);
	if (p < end && *p == '}')
		return p + 1;
	while (more) {
		k = p;
		if ((kq = reply_record_key(p, end, &next, &plain)) == NULL ||
		    !plain)
			return NULL;
		p = jsonscan_ws(kq, end);
		if (p == end || *p != ':')
			return NULL;
		p = jsonscan_ws(p + 1, end);
		/* Most values are strings: checked as jsonscan_value would. */
		if (p == end || (q = *p == '"' ? jsonscan_string(p, end) :
		    jsonscan_value(&js, p, end)) == NULL)
			return NULL;
		if (reply_key_is(k, kq, "state", 5)) {
			if (*p == '"' &&
			    memchr(p + 1, '\\', (size_t)(q - p - 2)) != NULL)
				return NULL;
			*done = *p == '"' && reply_key_is(p, q, "done", 4);
		}
		if ((p = reply_next(q, end, '}', &more)) == NULL)
			return NULL;
	}
	return p + 1;
}

/*
 * Scan the list (an array) at p into items, each element validated as
 * part of the reply. Returns past it, or NULL.
 */
static const char *
reply_list(struct submit_items *items, const char *p, const char *end,
    int records)
{
	struct jsonscan	 js = { REPLY_ELEMENT_DEPTH, NULL, 0, JSONSCAN_OK };
	const char	*q;
	int		 done, more = 1;

	items->n = 0;			/* the last list of the name wins */
	p = jsonscan_ws(p + 1, end);
	if (p < end && *p == ']')
		return p + 1;
	while (more) {
		done = 0;
		if (p == end)
			return NULL;
		if (records && *p == '{')
			q = reply_record(p, end, &done);
		else
			q = jsonscan_value(&js, p, end);
		if (q == NULL)
			return NULL;
		submit_items_add(items, p, (size_t)(q - p), done);
		if ((p = reply_next(q, end, ']', &more)) == NULL)
			return NULL;
	}
	return p + 1;
}

int
submit_reply_scan(struct submit_items *items, const char *msg, size_t len,
    const char *list, int records)
{
	/* The object is one level: its values get one less. */
	struct jsonscan	 js = { JSONSCAN_MAX_DEPTH - 1, NULL, 0, JSONSCAN_OK };
	const char	*p, *q, *k, *kq, *end = msg + len;
	size_t		 list_len = strlen(list);
	int		 plain, more = 1, ok = 0, have_list = 0;

	items->n = 0;
	p = jsonscan_ws(msg, end);
	if (p == end || *p != '{')
		return 0;
	p = jsonscan_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;			/* no "ok" */
	while (more) {
		k = p;
		if ((kq = reply_key(p, end, &plain)) == NULL || !plain)
			return 0;
		p = jsonscan_ws(kq, end);
		if (p == end || *p != ':')
			return 0;
		p = jsonscan_ws(p + 1, end);
		if (p == end)
			return 0;
		if (reply_key_is(k, kq, list, list_len)) {
			have_list = *p == '[';
			q = have_list ? reply_list(items, p, end, records) :
			    jsonscan_value(&js, p, end);
		} else {
			q = jsonscan_value(&js, p, end);
			if (q != NULL && reply_key_is(k, kq, "ok", 2))
				ok = q - p == 4 && memcmp(p, "true", 4) == 0;
		}
		if (q == NULL || (p = reply_next(q, end, '}', &more)) == NULL)
			return 0;
	}
	if (jsonscan_ws(p + 1, end) != end)
		return 0;
	return ok && have_list;
}
