/*
 * Job lines of the exec worker (see exec_job.h). The supervisor is trusted
 * but the data in a job came from a client, so every member is checked
 * before anything runs, and every string that leaves again is valid UTF-8.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "common/jsonscan.h"
#include "worker/exec/exec_job.h"

/*
 * A JSON string of len bytes of process output (or of a malformed line):
 * invalid UTF-8 is replaced by U+FFFD first, because jansson refuses it.
 * Returns a new reference.
 */
json_t *
exec_job_text(const char *data, size_t len)
{
	const unsigned char	*p = (const unsigned char *)data;
	struct buf		 clean = BUF_INIT;
	json_t			*s;
	size_t			 i = 0, start = 0, n;

	if (len == 0)
		return json_string("");
	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = jsonscan_utf8_len(p + i, p + len)) != 0) {
			i += n;
			continue;
		}
		if (i > start)
			buf_append(&clean, data + start, i - start);
		buf_append(&clean, "\xef\xbf\xbd", 3);
		start = ++i;
	}
	if (start == 0)
		return json_stringn(data, len);
	if (len > start)
		buf_append(&clean, data + start, len - start);
	s = json_stringn(buf_head(&clean), buf_used(&clean));
	buf_free(&clean);
	return s;
}

/* Check a member is a string usable as a C string; NULL or a message. */
static const char *
exec_job_check_cstring(json_t *v, const char *what)
{
	static char	msg[128];

	if (!json_is_string(v)) {
		snprintf(msg, sizeof msg, "%s must be a string", what);
		return msg;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(msg, sizeof msg, "%s contains a NUL byte", what);
		return msg;
	}
	return NULL;
}

/*
 * Check a job's data: exactly one of "args" (non-empty array of strings)
 * and "shell" (string), optional "env" (object of strings; null unsets),
 * "cwd" and "stdin" (strings); nothing else, so a misspelt key is an
 * error rather than silently ignored. Returns NULL or what is wrong.
 */
static const char *
exec_job_check_data(json_t *data)
{
	static char	 msg[256];
	const char	*key, *bad;
	json_t		*v, *args, *shell, *env;
	size_t		 i;

	if (!json_is_object(data))
		return "job data must be an object";
	json_object_foreach(data, key, v) {
		if (strcmp(key, "args") != 0 && strcmp(key, "shell") != 0 &&
		    strcmp(key, "env") != 0 && strcmp(key, "cwd") != 0 &&
		    strcmp(key, "stdin") != 0) {
			snprintf(msg, sizeof msg,
			    "unknown key \"%.64s\" in job data", key);
			return msg;
		}
	}
	args = json_object_get(data, "args");
	shell = json_object_get(data, "shell");
	if ((args == NULL) == (shell == NULL))
		return "job data needs exactly one of \"args\" and \"shell\"";
	if (args != NULL) {
		if (!json_is_array(args) || json_array_size(args) == 0)
			return "\"args\" must be a non-empty array of strings";
		json_array_foreach(args, i, v) {
			bad = exec_job_check_cstring(v, "each of \"args\"");
			if (bad != NULL)
				return bad;
		}
	}
	if (shell != NULL &&
	    (bad = exec_job_check_cstring(shell, "\"shell\"")) != NULL)
		return bad;
	if ((env = json_object_get(data, "env")) != NULL) {
		if (!json_is_object(env))
			return "\"env\" must be an object";
		json_object_foreach(env, key, v) {
			if (*key == '\0' || strchr(key, '=') != NULL)
				return "\"env\" has an invalid variable name";
			if (json_is_null(v))
				continue;
			bad = exec_job_check_cstring(v, "each value of \"env\"");
			if (bad != NULL)
				return bad;
		}
	}
	if ((v = json_object_get(data, "cwd")) != NULL &&
	    (bad = exec_job_check_cstring(v, "\"cwd\"")) != NULL)
		return bad;
	if ((v = json_object_get(data, "stdin")) != NULL && !json_is_string(v))
		return "\"stdin\" must be a string";
	return NULL;
}

/*
 * The id at the start of a line that could not be parsed, as the
 * supervisor writes it ({"id":"...), copied; or NULL.
 */
char *
exec_line_peek_id(const char *line, size_t len)
{
	const char	*id;
	size_t		 n;

	if ((n = jsonscan_peek_id(line, len, 256, &id)) == 0)
		return NULL;
	return xstrndup(id, n);
}

/* Fill *out as an error line. */
static void
exec_line_error(struct exec_line *out, char *id, const char *error)
{
	out->type = EXEC_LINE_ERROR;
	out->id = id;
	out->error = xstrdup(error);
}

/* Parse one line from fd 3 into *out; clear it with exec_line_clear. */
void
exec_line_parse(const char *line, size_t len, struct exec_line *out)
{
	struct exec_job	*job;
	json_error_t	 jerr;
	json_t		*obj, *id, *data, *timeout, *cancel;
	const char	*bad;
	char		 msg[256];
	double		 ms = 0;

	memset(out, 0, sizeof *out);
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL || !json_is_object(obj)) {
		if (obj == NULL)
			snprintf(msg, sizeof msg, "malformed job line: %s",
			    jerr.text);
		else
			snprintf(msg, sizeof msg,
			    "malformed job line: not an object");
		exec_line_error(out, exec_line_peek_id(line, len), msg);
		json_decref(obj);
		return;
	}

	if ((cancel = json_object_get(obj, "cancel")) != NULL) {
		if (json_is_string(cancel)) {
			out->type = EXEC_LINE_CANCEL;
			out->id = xstrdup(json_string_value(cancel));
		} else
			exec_line_error(out, NULL, "malformed cancel line");
		json_decref(obj);
		return;
	}

	id = json_object_get(obj, "id");
	if (!json_is_string(id) || json_string_length(id) == 0 ||
	    strlen(json_string_value(id)) != json_string_length(id)) {
		exec_line_error(out, NULL, "malformed job line: no usable id");
		json_decref(obj);
		return;
	}
	data = json_object_get(obj, "data");
	timeout = json_object_get(obj, "timeout_ms");
	if (data == NULL)
		bad = "job has no \"data\"";
	else if (timeout != NULL && (!json_is_number(timeout) ||
	    (ms = json_number_value(timeout)) < 0 || !isfinite(ms)))
		bad = "\"timeout_ms\" must be a number >= 0";
	else
		bad = exec_job_check_data(data);
	if (bad != NULL) {
		exec_line_error(out, xstrdup(json_string_value(id)), bad);
		json_decref(obj);
		return;
	}

	job = xcalloc(1, sizeof *job);
	job->id = xstrdup(json_string_value(id));
	job->data = json_incref(data);
	job->timeout = ms / 1000.0;
	json_decref(obj);
	out->type = EXEC_LINE_JOB;
	out->job = job;
}

/* Free what a parsed line still owns. */
void
exec_line_clear(struct exec_line *l)
{
	if (l->job != NULL)
		exec_job_free(l->job);
	free(l->id);
	free(l->error);
	memset(l, 0, sizeof *l);
}

/* Free a job. */
void
exec_job_free(struct exec_job *job)
{
	free(job->id);
	json_decref(job->data);
	free(job);
}
