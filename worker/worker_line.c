/*
 * Job lines of the C worker library (see worker_impl.h): one JSON object
 * with a non-empty string "id" and a "data" member of any type, other
 * members skipped, in any order. The common scanner (common/jsonscan.c)
 * validates; the id is decoded and the data NUL-terminated in place, so
 * a job costs no allocation.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include "common/jsonscan.h"
#include "worker/worker_impl.h"

/* Refuse a line for why; returns -1 for the caller to return. */
static int
line_refuse(struct mpsup_job *job, const char *why)
{
	job->error = why;
	return -1;
}

/* Skip one valid JSON value at p, nested at most JSONSCAN_MAX_DEPTH deep. */
static char *
line_skip_value(char *p, char *end)
{
	struct jsonscan	js = { JSONSCAN_MAX_DEPTH, NULL, 0, JSONSCAN_OK };

	return (char *)jsonscan_value(&js, p, end);
}

/*
 * Decode the body of a validated JSON string in place (escapes never grow
 * when decoded). Returns the new length, or -1 for a NUL, which a C
 * string cannot carry.
 */
static long
line_unescape(char *s, size_t len)
{
	const char	*p = s, *end = s + len;
	char		*o = s;
	unsigned char	 tmp[4];
	size_t		 n;

	while (p < end) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		n = jsonscan_escape_decode(&p, end, tmp);
		if (n == 0 || (n == 1 && tmp[0] == '\0'))
			return -1;
		memcpy(o, tmp, n);
		o += n;
	}
	return o - s;
}

/* The id member's value at p: decoded in place and NUL-terminated. */
static char *
line_id(char *p, char *end, struct mpsup_job *job)
{
	char	*q;
	long	 n;

	if (job->id != NULL) {
		line_refuse(job, "job has two ids");
		return NULL;
	}
	if (p == end || *p != '"' ||
	    (q = (char *)jsonscan_string(p, end)) == NULL) {
		line_refuse(job, "job id is not a string");
		return NULL;
	}
	n = q - 1 - (p + 1);
	/* Ids the supervisor makes have no escape: nothing to decode. */
	if (memchr(p + 1, '\\', (size_t)n) != NULL)
		n = line_unescape(p + 1, (size_t)n);
	if (n <= 0) {
		line_refuse(job, "job id is empty or not usable");
		return NULL;
	}
	p[1 + n] = '\0';
	job->id = p + 1;
	return q;
}

/* The data member's value at p, kept as text. */
static char *
line_data(char *p, char *end, struct mpsup_job *job)
{
	char	*q;

	if (job->data != NULL) {
		line_refuse(job, "job has two data members");
		return NULL;
	}
	if ((q = line_skip_value(p, end)) == NULL) {
		line_refuse(job, "job data is not valid JSON");
		return NULL;
	}
	job->data = p;
	job->data_len = q - p;
	return q;
}

/* One member "key":value at p; returns past it, or NULL if it is bad. */
static char *
line_member(char *p, char *end, struct mpsup_job *job)
{
	char	*key, *q;
	size_t	 klen;
	long	 n;

	if (p == end || *p != '"' ||
	    (q = (char *)jsonscan_string(p, end)) == NULL) {
		line_refuse(job, "job line has a malformed key");
		return NULL;
	}
	key = p + 1;
	klen = q - 1 - key;
	if (memchr(key, '\\', klen) != NULL) {
		if ((n = line_unescape(key, klen)) == -1) {
			line_refuse(job, "job line has a malformed key");
			return NULL;
		}
		klen = (size_t)n;
	}
	p = (char *)jsonscan_ws(q, end);
	if (p == end || *p != ':') {
		line_refuse(job, "job line is not a valid JSON object");
		return NULL;
	}
	p = (char *)jsonscan_ws(p + 1, end);
	if (klen == 2 && memcmp(key, "id", 2) == 0)
		return line_id(p, end, job);
	if (klen == 4 && memcmp(key, "data", 4) == 0)
		return line_data(p, end, job);
	if ((q = line_skip_value(p, end)) == NULL)
		line_refuse(job, "job line is not valid JSON");
	return q;
}

/* Parse the object [p, end): 1, or -1 with job->error set. */
static int
line_object(char *p, char *end, struct mpsup_job *job)
{
	p = (char *)jsonscan_ws(p, end);
	if (p == end || *p != '{')
		return line_refuse(job, "job line is not a JSON object");
	p = (char *)jsonscan_ws(p + 1, end);
	if (p < end && *p == '}')
		return line_refuse(job, "job has no id");
	for (;;) {
		if ((p = line_member(p, end, job)) == NULL)
			return -1;
		p = (char *)jsonscan_ws(p, end);
		if (p < end && *p == ',') {
			p = (char *)jsonscan_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		return line_refuse(job, "job line is not a valid JSON object");
	}
	if (jsonscan_ws(p + 1, end) != end)
		return line_refuse(job, "job line has trailing garbage");
	if (job->id == NULL)
		return line_refuse(job, "job has no id");
	if (job->data == NULL)
		return line_refuse(job, "job has no data");
	((char *)job->data)[job->data_len] = '\0';
	return 1;
}

/* Parse a job line; on failure only the id (if any) is left for the caller. */
int
mpsup_worker_parse_line(char *p, char *end, struct mpsup_job *job)
{
	if (line_object(p, end, job) == 1)
		return 1;
	job->data = NULL;
	job->data_len = 0;
	errno = EBADMSG;
	return -1;
}

/* Copy the id from the start of a line that is too long to parse. */
const char *
mpsup_worker_peek_id(struct mpsup_worker *w, const char *p, size_t len)
{
	const char	*id;
	size_t		 n;

	if ((n = jsonscan_peek_id(p, len, sizeof w->long_id - 1, &id)) == 0)
		return NULL;
	memcpy(w->long_id, id, n);
	w->long_id[n] = '\0';
	return w->long_id;
}
