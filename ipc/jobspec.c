/*
 * Job descriptions (see jobspec.h). Everything is checked before the first
 * byte is appended, so a request with a bad job anywhere in a batch can be
 * refused as a whole.
 *
 * The data text is copied as the client wrote it, white space included,
 * and workers get it inside one line of the pipe protocol. So line breaks,
 * which valid JSON has only as white space between tokens, become spaces:
 * otherwise "data":[\n{"id":"X",...}\n] would put a job line of the
 * client's making, with another job's id, on a worker's pipe.
 */
#include "config.h"

#include <stddef.h>

#include "ipc/jobspec.h"

/* Members of an exec job, in the order the exec worker gets them. */
static const char *const jobspec_exec_keys[] = { "args", "shell", "env",
    "cwd", "stdin" };

/* Check an exec job's members; NULL or a message. */
static const char *
jobspec_check_exec(const struct jsontext_span *desc)
{
	struct jsontext_span	 v, e, k;
	size_t			 st, i;
	int			 have_args, have_shell;

	have_args = jsontext_object_get(desc, "args", &v);
	if (have_args) {
		if (v.type != JSONTEXT_ARRAY)
			return "\"args\" must be a list of strings";
		st = 0;
		i = 0;
		while (jsontext_array_next(&v, &st, &e)) {
			if (e.type != JSONTEXT_STRING)
				return "\"args\" must be a list of strings";
			i++;
		}
		if (i == 0)
			return "\"args\" must not be empty";
	}
	have_shell = jsontext_object_get(desc, "shell", &v);
	if (have_shell && v.type != JSONTEXT_STRING)
		return "\"shell\" must be a string";
	if (have_args == have_shell)
		return "an exec job needs exactly one of \"args\" and \"shell\"";
	if (jsontext_object_get(desc, "env", &v)) {
		if (v.type != JSONTEXT_OBJECT)
			return "\"env\" must be an object of strings";
		st = 0;
		while (jsontext_object_next(&v, &st, &k, &e))
			if (e.type != JSONTEXT_STRING)
				return "\"env\" must be an object of strings";
	}
	if (jsontext_object_get(desc, "cwd", &v) && v.type != JSONTEXT_STRING)
		return "\"cwd\" must be a string";
	if (jsontext_object_get(desc, "stdin", &v) && v.type != JSONTEXT_STRING)
		return "\"stdin\" must be a string";
	return NULL;
}

/* Turn the line breaks after the first from unread bytes into spaces. */
static void
jobspec_one_line(struct buf *b, size_t from)
{
	char	*p, *end = buf_head(b) + buf_used(b);

	for (p = buf_head(b) + from; p < end; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

const char *
jobspec_build_stream(const struct jsontext_span *data, struct buf *out)
{
	size_t	from = buf_used(out);

	if (data->p == NULL)
		return "a stream pool's job needs \"data\"";
	buf_append(out, data->p, data->len);
	jobspec_one_line(out, from);
	return NULL;
}

const char *
jobspec_build(enum pool_type type, const struct jsontext_span *desc,
    struct buf *out)
{
	struct jsontext_span	 v;
	const char		*err;
	size_t			 i, from = buf_used(out);
	int			 first = 1;

	if (type == POOL_TYPE_STREAM) {
		if (!jsontext_object_get(desc, "data", &v))
			v.p = NULL;
		return jobspec_build_stream(&v, out);
	}
	if ((err = jobspec_check_exec(desc)) != NULL)
		return err;
	buf_append(out, "{", 1);
	for (i = 0; i < sizeof jobspec_exec_keys / sizeof jobspec_exec_keys[0];
	    i++) {
		if (!jsontext_object_get(desc, jobspec_exec_keys[i], &v))
			continue;
		buf_appendf(out, "%s\"%s\":", first ? "" : ",",
		    jobspec_exec_keys[i]);
		buf_append(out, v.p, v.len);
		first = 0;
	}
	buf_append(out, "}", 1);
	jobspec_one_line(out, from);
	return NULL;
}
