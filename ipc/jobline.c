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
	return 0;
}
