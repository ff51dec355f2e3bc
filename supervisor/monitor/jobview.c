/*
 * Jobs for the HTTP endpoint (see jobview.h). Records come from the job
 * engine as the remote "result" op sends them; nothing here changes a job.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonscan.h"
#include "common/timeutil.h"
#include "config/parse.h"
#include "ipc/jsontext.h"
#include "store/job.h"
#include "supervisor/dispatch.h"
#include "supervisor/joblist.h"
#include "supervisor/monitor/jobview.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"

/* Is id a job id as mpsup writes them (JOB_ID_LEN lowercase hex digits)? */
static int
jobview_id_ok(const char *id)
{
	size_t	i;

	for (i = 0; i < JOB_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[i] == '\0';
}

static int	jobview_member(const char *, const char *, const char *,
		    const char **, size_t *);

/*
 * Where to cut the JSON string whose body starts at s so that it decodes
 * to at most max bytes: between two escapes or characters, never inside
 * one. Returns the cut, or NULL if the whole string fits.
 */
static const char *
jobview_string_cut(const char *s, const char *end, uint64_t max)
{
	unsigned char	u[4];
	const char	*at;
	uint64_t	n = 0;
	size_t		k;

	while (s < end && *s != '"') {
		at = s;
		if (*s == '\\') {
			if ((k = jsonscan_escape_decode(&s, end, u)) == 0)
				return at;
		} else {
			k = jsonscan_utf8_len((const unsigned char *)s,
			    (const unsigned char *)end);
			s += k > 0 ? k : 1;
		}
		if (n + k > max)
			return at;
		n += k;
	}
	return NULL;
}

/*
 * Append value v (vlen bytes: a string or {"$bytes":"..."}) cut to max
 * bytes of output; 1 if it was cut.
 */
static int
jobview_output_cut(struct buf *b, const char *v, size_t vlen, uint64_t max)
{
	const char	*cut, *s;
	size_t		 slen, keep;

	if (*v == '"') {
		if ((cut = jobview_string_cut(v + 1, v + vlen, max)) == NULL)
			goto whole;
		buf_append(b, v, (size_t)(cut - v));
		buf_append(b, "\"", 1);
		return 1;
	}
	if (*v == '{' && jobview_member(v + 1, v + vlen - 1, "$bytes", &s,
	    &slen) == 0 && *s == '"') {
		/* base64: 4 characters for each 3 bytes. */
		keep = (size_t)(max / 3 * 4);
		if (slen - 2 <= keep)
			goto whole;
		buf_append_str(b, "{\"$bytes\":");
		buf_append(b, s, keep + 1);
		buf_append_str(b, "\"}");
		return 1;
	}
whole:
	buf_append(b, v, vlen);
	return 0;
}

void
jobview_record_cut(const char *rec, size_t len, uint64_t max, struct buf *out)
{
	static const char *const keys[] = { "stdout", "stderr" };
	const char	*v[2], *at = rec, *end = rec + len;
	size_t		 vlen[2], i, first;
	int		 cut = 0, have[2];

	for (i = 0; i < 2; i++)
		have[i] = jobview_member(rec + 1, end - 1, keys[i], &v[i],
		    &vlen[i]) == 0;
	first = have[0] && have[1] && v[1] < v[0] ? 1 : 0;
	for (i = 0; i < 2; i++) {
		size_t	k = i == 0 ? first : 1 - first;

		if (!have[k])
			continue;
		buf_append(out, at, (size_t)(v[k] - at));
		cut |= jobview_output_cut(out, v[k], vlen[k], max);
		at = v[k] + vlen[k];
	}
	/* Up to the closing brace, which takes the flag before it. */
	buf_append(out, at, (size_t)(end - 1 - at));
	if (cut)
		buf_append_str(out, ",\"output_cut\":true");
	buf_append_str(out, "}\n");
}

unsigned int
jobview_record(const char *id, const char *output_max, struct buf *out)
{
	struct job	*job;
	struct buf	 rec = BUF_INIT;
	uint64_t	 max = JOBVIEW_OUTPUT_DEFAULT;
	const char	*err;

	if (id == NULL || *id == '\0') {
		buf_append_str(out, "id: the job's id is needed (/job?id=ID)\n");
		return 400;
	}
	if (!jobview_id_ok(id)) {
		buf_append_str(out, "id: not a job id (16 hex digits)\n");
		return 400;
	}
	if (output_max != NULL) {
		if (parse_size(output_max, &max, &err) == -1) {
			buf_appendf(out, "output_max: %s\n", err);
			return 400;
		}
		if (max > JOBVIEW_OUTPUT_MAX) {
			buf_append_str(out, "output_max: at most 64M\n");
			return 400;
		}
	}
	if ((job = dispatch_job_find(id, JOB_ID_LEN)) == NULL) {
		buf_appendf(out, "no job '%s' (unknown, or its record "
		    "expired)\n", id);
		return 404;
	}
	job_record_append(job, &rec);
	jobview_record_cut(rec.data, rec.len, max, out);
	buf_free(&rec);
	return 200;
}

/*
 * The value of key among members, "k":v,"k":v as the job record holds an
 * exec job's result (mpsup's own, valid JSON text): *v and *vlen, or -1.
 */
static int
jobview_member(const char *p, const char *end, const char *key,
    const char **v, size_t *vlen)
{
	struct jsonscan	 js = { JSONSCAN_MAX_DEPTH, NULL, 0, JSONSCAN_OK };
	const char	*k, *kend, *vend;
	size_t		 klen = strlen(key);

	while ((p = jsonscan_ws(p, end)) < end && *p == '"') {
		k = p + 1;
		if ((kend = jsonscan_string(p, end)) == NULL)
			return -1;
		p = jsonscan_ws(kend, end);
		if (p == end || *p != ':')
			return -1;
		p = jsonscan_ws(p + 1, end);
		if ((vend = jsonscan_value(&js, p, end)) == NULL)
			return -1;
		if ((size_t)(kend - 1 - k) == klen && memcmp(k, key, klen) == 0) {
			*v = p;
			*vlen = (size_t)(vend - p);
			return 0;
		}
		p = jsonscan_ws(vend, end);
		if (p < end && *p == ',')
			p++;
	}
	return -1;
}

/* Decode base64 from s (up to end) into out, at most max bytes. */
static size_t
jobview_base64(const char *s, const char *end, unsigned char *out, size_t max)
{
	static const char	 abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*at;
	unsigned		 acc = 0, bits = 0;
	size_t			 n = 0;

	for (; s < end && n < max && *s != '=' && *s != '"'; s++) {
		if ((at = memchr(abc, *s, 64)) == NULL)
			break;
		acc = (acc << 6) | (unsigned)(at - abc);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/*
 * Decode the JSON string whose body starts at s into out, at most max
 * bytes; stops early at the end of the string.
 */
static size_t
jobview_unescape(const char *s, const char *end, unsigned char *out,
    size_t max)
{
	unsigned char	u[4];
	size_t		n = 0, k;

	while (s < end && *s != '"' && n < max) {
		if (*s != '\\') {
			out[n++] = (unsigned char)*s++;
			continue;
		}
		if ((k = jsonscan_escape_decode(&s, end, u)) == 0)
			break;
		if (n + k > max)
			break;
		memcpy(out + n, u, k);
		n += k;
	}
	return n;
}

int
jobview_stderr_line(const char *members, size_t len, struct buf *out)
{
	/* Room for blank lines before the first that says something. */
	unsigned char	 raw[4 * JOBVIEW_LINE_MAX];
	const char	*v, *end = members + len, *s, *o;
	size_t		 vlen, n, i, line;
	char		 esc[6 * JOBVIEW_LINE_MAX + 3], *e;

	if (jobview_member(members, end, "stderr", &v, &vlen) == -1)
		return -1;
	if (*v == '"')
		n = jobview_unescape(v + 1, v + vlen, raw, sizeof raw);
	else if (*v == '{' && jobview_member(v + 1, v + vlen - 1, "$bytes",
	    &s, &n) == 0 && *s == '"')
		n = jobview_base64(s + 1, s + n, raw, sizeof raw);
	else
		return -1;
	/* Skip blank lines; the line ends at a newline or the limit. */
	for (i = 0; i < n; i = i + line + 1) {
		for (line = 0; i + line < n && raw[i + line] != '\n'; line++)
			;
		for (s = (const char *)raw + i; s < (const char *)raw + i +
		    line && (*s == ' ' || *s == '\t' || *s == '\r'); s++)
			;
		if (s == (const char *)raw + i + line)
			continue;
		if (line > JOBVIEW_LINE_MAX)
			line = JOBVIEW_LINE_MAX;
		while (line > 0 && raw[i + line - 1] == '\r')
			line--;
		o = (const char *)raw + i;
		e = jsonscan_escape(esc, &o, o + line, o + line);
		buf_append(out, esc, (size_t)(e - esc));
		return 0;
	}
	return -1;
}

/* A time as the job record writes it, or null. */
static void
jobview_time(struct buf *b, const char *key, double t)
{
	char	ts[TIME_ISO_BUF];

	buf_appendf(b, ",\"%s\":", key);
	if (t <= 0) {
		buf_append_str(b, "null");
		return;
	}
	time_iso8601(t, ts);
	buf_appendf(b, "\"%s\"", ts);
}

/* Copy member key of an exec job's result, or null. */
static void
jobview_copy(struct buf *b, const struct job *job, const char *key)
{
	const char	*v;
	size_t		 vlen;
	const char	*res = job_result(job);

	buf_appendf(b, ",\"%s\":", key);
	if (job->exec && res != NULL && jobview_member(res, res + strlen(res),
	    key, &v, &vlen) == 0)
		buf_append(b, v, vlen);
	else
		buf_append_str(b, "null");
}

/* One job's summary: what the dashboard's table shows of it. */
static void
jobview_summary(struct buf *b, const struct job *job)
{
	size_t		 mark;
	const char	*pool = job->owner != NULL ? job->owner->name : "";
	const char	*res = job_result(job), *err = job_error(job);
	double		 start = job_started_at(job), fin = job_finished_at(job);

	buf_appendf(b, "{\"id\":\"%s\",\"pool\":", job->id);
	jsontext_string_append(b, pool, strlen(pool));
	buf_appendf(b, ",\"state\":\"%s\",\"attempts\":%u",
	    job_state_name(job->state), (unsigned)job->attempts);
	jobview_time(b, "submitted_at", job->submitted_at);
	jobview_time(b, "finished_at", fin);
	if (start > 0 && fin >= start)
		buf_appendf(b, ",\"duration_ms\":%.3f", (fin - start) * 1000.0);
	else
		buf_append_str(b, ",\"duration_ms\":null");
	jobview_copy(b, job, "exit_code");
	jobview_copy(b, job, "signal");
	buf_append_str(b, ",\"error\":");
	if (err != NULL)
		jsontext_string_append(b, err, strlen(err));
	else
		buf_append_str(b, "null");
	buf_append_str(b, ",\"stderr_line\":\"");
	mark = b->len;
	if (!job->exec || res == NULL ||
	    jobview_stderr_line(res, strlen(res), b) == -1) {
		b->len = mark - 1;
		buf_append_str(b, "null}");
		return;
	}
	buf_append_str(b, "\"}");
}

/* Read q into f; 0, or an HTTP status with the reason in out. */
static unsigned int
jobview_filter(struct supervisor *sv, const struct jobview_query *q,
    struct joblist_filter *f, struct buf *out)
{
	const char	*err;
	double		 since;
	long		 limit = JOBVIEW_DEFAULT;
	size_t		 i;

	memset(f, 0, sizeof *f);
	if (q->limit != NULL && parse_long(q->limit, 1, JOBVIEW_MAX, &limit,
	    &err) == -1) {
		buf_appendf(out, "limit: %s\n", err);
		return 400;
	}
	f->limit = (size_t)limit;
	if (q->state != NULL && joblist_parse_states(q->state,
	    strlen(q->state), &f->states, &err) == -1) {
		buf_appendf(out, "state: %s\n", err);
		return 400;
	}
	if (q->since != NULL) {
		if (parse_duration(q->since, &since, &err) == -1) {
			buf_appendf(out, "since: %s\n", err);
			return 400;
		}
		f->since = ev_now(sv->loop) - since;
	}
	if ((f->pool = q->pool) != NULL) {
		for (i = 0; i < sv->npools; i++)
			if (strcmp(sv->pools[i]->name, q->pool) == 0)
				return 0;
		buf_append_str(out, "unknown pool\n");
		return 404;
	}
	return 0;
}

unsigned int
jobview_list(struct supervisor *sv, const struct jobview_query *q,
    struct buf *out)
{
	struct joblist_filter	  f;
	const struct job	**jobs;
	unsigned int		  code;
	size_t			  i, n;

	if ((code = jobview_filter(sv, q, &f, out)) != 0)
		return code;
	n = joblist_query(&f, &jobs);
	buf_append_str(out, "{\"jobs\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_append(out, ",", 1);
		jobview_summary(out, jobs[i]);
	}
	buf_append_str(out, "]}\n");
	free(jobs);
	return 200;
}
