/*
 * Result lines of the worker pipe protocol (see jobline.h). This runs for
 * every job, so the line is validated and its members are collected in
 * the same single pass, and the depth of the result is looked at only
 * when the line is deep.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonscan.h"
#include "common/xmalloc.h"
#include "ipc/jobline.h"

/* The error of a job whose result is too deep, as a JSON string. */
static const char jobline_too_deep[] = "\"" JSONSCAN_RESULT_TOO_DEEP "\"";

static int
jobline_key_is(const struct jsontext_span *key, const char *quoted)
{
	size_t	n = strlen(quoted);

	return key->len == n && memcmp(key->p, quoted, n) == 0;
}

/* Deepest nesting of arrays and objects in a valid JSON value. */
static size_t
jobline_depth(const struct jsontext_span *v)
{
	const char	*p = v->p, *end = v->p + v->len;
	size_t		 depth = 0, max = 0;

	if (v->type != JSONTEXT_OBJECT && v->type != JSONTEXT_ARRAY)
		return 0;
	for (; p < end; p++) {
		switch (*p) {
		case '"':
			/* Skip the string; it is valid, so it ends. */
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			break;
		case '[':
		case '{':
			if (++depth > max)
				max = depth;
			break;
		case ']':
		case '}':
			depth--;
			break;
		}
	}
	return max;
}

/*
 * Validate the value at p, which may nest deeper than max levels (then a
 * second pass, with room for as many levels as the line has bytes, tells
 * a deep line from garbage). Returns past it or NULL, and how deep it
 * went.
 */
static const char *
jobline_scan(const char *p, const char *end, unsigned int max,
    size_t *depth)
{
	struct jsonscan	 js = { max, NULL, 0, JSONSCAN_OK };
	const char	*q;
	size_t		 len = end - p;

	if ((q = jsonscan_value(&js, p, end)) == NULL &&
	    js.error == JSONSCAN_TOO_DEEP) {
		js.max_depth = len < UINT_MAX ? (unsigned int)len : UINT_MAX;
		js.levels = xcalloc(JSONSCAN_LEVEL_WORDS(js.max_depth),
		    sizeof *js.levels);
		q = jsonscan_value(&js, p, end);
		free(js.levels);
	}
	*depth = js.depth;
	return q;
}

/* Take the member key: v if it is one the result line has. */
static void
jobline_member(struct jobline_result *r, struct jsontext_span *ok,
    const struct jsontext_span *key, const struct jsontext_span *v)
{
	if (jobline_key_is(key, "\"id\""))
		r->id = *v;
	else if (jobline_key_is(key, "\"ok\""))
		*ok = *v;
	else if (jobline_key_is(key, "\"result\""))
		r->result = *v;
	else if (jobline_key_is(key, "\"error\""))
		r->error = *v;
}

/*
 * Validate the object at p (its '{') and take its members in the same
 * pass: each key and value is validated where it is met, so the line is
 * read once. Returns past the object or NULL; *depth is the object's
 * nesting (1 + its deepest member).
 */
static const char *
jobline_object(const char *p, const char *end, struct jobline_result *r,
    struct jsontext_span *ok, size_t *depth)
{
	struct jsontext_span	 key, v;
	size_t			 d;

	*depth = 1;
	if ((p = jsonscan_ws(p + 1, end)) < end && *p == '}')
		return p + 1;
	for (;;) {
		if (p == end || *p != '"')
			return NULL;
		key.p = p;
		if ((p = jsonscan_string(p, end)) == NULL)
			return NULL;
		key.len = p - key.p;
		if ((p = jsonscan_ws(p, end)) == end || *p != ':')
			return NULL;
		if ((p = jsonscan_ws(p + 1, end)) == end)
			return NULL;
		v.p = p;
		if ((p = jobline_scan(p, end, JSONSCAN_MAX_DEPTH - 1, &d)) ==
		    NULL)
			return NULL;
		v.len = p - v.p;
		v.type = jsontext_type_of(*v.p);
		if (d + 1 > *depth)
			*depth = d + 1;
		jobline_member(r, ok, &key, &v);
		if ((p = jsonscan_ws(p, end)) == end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = jsonscan_ws(p + 1, end);
	}
}

/*
 * The line as the worker libraries write a success, {"id":"ID","ok":true,
 * "result":VALUE} with nothing else around: taken with two compares, a
 * scan of the id and one of the value. Returns past the object, or NULL
 * for any other line (the general walk then reads it from the start, so
 * the answer is the same).
 */
static const char *
jobline_plain(const char *p, const char *end, struct jobline_result *r,
    size_t *depth)
{
	static const char	 mid[] = ",\"ok\":true,\"result\":";
	const char		*id = p + 6, *q;
	size_t			 d;

	if (end - p < 8 || memcmp(p, "{\"id\":\"", 7) != 0 ||
	    (q = jsonscan_string(id, end)) == NULL ||
	    (size_t)(end - q) < sizeof mid ||
	    memcmp(q, mid, sizeof mid - 1) != 0)
		return NULL;
	p = q + sizeof mid - 1;
	if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' ||
	    (q = jobline_scan(p, end, JSONSCAN_MAX_DEPTH - 1, &d)) == NULL ||
	    q == end || *q != '}')
		return NULL;
	r->id.p = id;
	r->id.len = (size_t)(p - (sizeof mid - 1) - id);
	r->id.type = JSONTEXT_STRING;
	r->result.p = p;
	r->result.len = (size_t)(q - p);
	r->result.type = jsontext_type_of(*p);
	r->ok = 1;
	*depth = d + 1;
	return q + 1;
}

int
jobline_parse_result(const char *line, size_t len, struct jobline_result *r)
{
	struct jsontext_span	 ok;
	const char		*p, *end;
	size_t			 depth;

	memset(r, 0, sizeof *r);
	r->id.type = ok.type = r->error.type = JSONTEXT_INVALID;
	r->result.p = "null";
	r->result.len = 4;
	r->result.type = JSONTEXT_NULL;
	p = jsonscan_ws(line, line + len);
	if ((end = jobline_plain(p, line + len, r, &depth)) != NULL)
		ok.type = JSONTEXT_TRUE;
	else if (p == line + len || *p != '{' ||
	    (end = jobline_object(p, line + len, r, &ok, &depth)) == NULL)
		return -1;
	while (end < line + len && (*end == ' ' || *end == '\t' ||
	    *end == '\r'))
		end++;
	if (end != line + len)
		return -1;
	if (r->id.type != JSONTEXT_STRING ||
	    (ok.type != JSONTEXT_TRUE && ok.type != JSONTEXT_FALSE))
		return -1;
	r->ok = ok.type == JSONTEXT_TRUE;
	/* The object itself is one level: its members go one less deep. */
	if (depth - 1 > JSONSCAN_RESULT_MAX_DEPTH &&
	    jobline_depth(&r->result) > JSONSCAN_RESULT_MAX_DEPTH) {
		r->ok = 0;
		r->result.p = "null";
		r->result.len = 4;
		r->result.type = JSONTEXT_NULL;
		r->error.p = jobline_too_deep;
		r->error.len = sizeof jobline_too_deep - 1;
		r->error.type = JSONTEXT_STRING;
		return 0;
	}
	return depth > JSONSCAN_MAX_DEPTH ? -1 : 0;
}
