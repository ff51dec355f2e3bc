/*
 * Result lines of the worker pipe protocol (see jobline.h). This runs for
 * every job, so the members are collected in one pass over the object.
 */
#include "config.h"

#include <string.h>

#include "ipc/jobline.h"

static int
jobline_key_is(const struct jsontext_span *key, const char *quoted)
{
	size_t	n = strlen(quoted);

	return key->len == n && memcmp(key->p, quoted, n) == 0;
}

/* Deepest nesting of arrays and objects in a valid JSON value. */
static int
jobline_depth(const struct jsontext_span *v)
{
	const char	*p = v->p, *end = v->p + v->len;
	int		 depth = 0, max = 0;

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

int
jobline_parse_result(const char *line, size_t len, struct jobline_result *r)
{
	struct jsontext_span	 obj, key, v, ok;
	const char		*end;
	size_t			 st = 0;

	if ((end = jsontext_scan(line, line + len, &obj)) == NULL)
		return -1;
	while (end < line + len && (*end == ' ' || *end == '\t' ||
	    *end == '\r'))
		end++;
	if (end != line + len || obj.type != JSONTEXT_OBJECT)
		return -1;
	memset(r, 0, sizeof *r);
	r->id.type = ok.type = r->error.type = JSONTEXT_INVALID;
	r->result.p = "null";
	r->result.len = 4;
	r->result.type = JSONTEXT_NULL;
	while (jsontext_object_next(&obj, &st, &key, &v)) {
		if (jobline_key_is(&key, "\"id\""))
			r->id = v;
		else if (jobline_key_is(&key, "\"ok\""))
			ok = v;
		else if (jobline_key_is(&key, "\"result\""))
			r->result = v;
		else if (jobline_key_is(&key, "\"error\""))
			r->error = v;
	}
	if (r->id.type != JSONTEXT_STRING ||
	    (ok.type != JSONTEXT_TRUE && ok.type != JSONTEXT_FALSE))
		return -1;
	r->ok = ok.type == JSONTEXT_TRUE;
	if (jobline_depth(&r->result) > JOBLINE_MAX_RESULT_DEPTH)
		return -1;
	return 0;
}
