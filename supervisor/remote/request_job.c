/*
 * One job's description in a submit or submit_many request (see
 * request_decode.h): its end, its "data", its idempotency key and its flow
 * fields, found in one walk over its members.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonscan.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "config/parse.h"
#include "store/job.h"
#include "supervisor/remote/request_decode.h"

/*
 * The decoded jobs array of the last request, kept for the next one: a
 * batch of 2,000 jobs is 144 KiB, grown by doubling (each step a copy)
 * and mapped fresh from the kernel (each page a fault) for every batch.
 */
#define REQUEST_SPARE_JOBS	4096
static struct {
	struct request_job	*jobs;
	size_t			 room;
} spare;

/*
 * The idempotency "key" of a job description (v, or v->p NULL without
 * one) into *key (NULL without one); NULL, or the message if malformed.
 */
static const char *
decode_key(const struct jsontext_span *v, char **key)
{
	size_t	len;

	*key = NULL;
	if (v->p == NULL || v->type == JSONTEXT_NULL)
		return NULL;
	if (v->type != JSONTEXT_STRING ||
	    (*key = jsontext_string_decode(v, &len)) == NULL ||
	    len == 0 || len > REQUEST_KEY_MAX || strlen(*key) != len) {
		free(*key);
		*key = NULL;
		return "\"key\" must be a string of 1 to 256 bytes";
	}
	return NULL;
}

/* "delay": a duration ("30s") or a number of seconds, into *delay. */
static const char *
decode_delay(const struct jsontext_span *v, double *delay)
{
	static const char	 msg[] = "\"delay\" must be a duration such "
	    "as \"30s\" or \"10m\" (at most a year), or seconds";
	const char		*err;
	char			*s;
	int			 r;

	if (v->type == JSONTEXT_NUMBER)
		return jsontext_number(v, delay) == -1 || !isfinite(*delay) ||
		    *delay < 0 || *delay > 365.0 * 86400 ? msg : NULL;
	if (v->type != JSONTEXT_STRING ||
	    (s = jsontext_string_decode(v, NULL)) == NULL)
		return msg;
	r = parse_duration(s, delay, &err);
	free(s);
	return r == -1 ? msg : NULL;
}

/* "not_before": an RFC 3339 time, into *t. */
static const char *
decode_not_before(const struct jsontext_span *v, double *t)
{
	char	*s;
	int	 r = -1;

	if (v->type == JSONTEXT_STRING &&
	    (s = jsontext_string_decode(v, NULL)) != NULL) {
		r = time_parse_rfc3339(s, t);
		free(s);
	}
	if (r == -1)
		return "\"not_before\" must be an RFC 3339 time such as "
		    "\"2026-12-06T09:30:00Z\"";
	if (*t > time_wall() + 365.0 * 86400)
		return "\"not_before\" is more than a year ahead";
	return NULL;
}

/* The members of a job description the request reads (absent: p NULL). */
struct decode_job_members {
	struct jsontext_span	key, priority, delay, not_before, group, data;
};

/* Whether a member name (k, quotes included) is name (n bytes). */
static int
decode_name_is(const struct jsontext_span *k, const char *name, size_t n)
{
	if (k->len == n + 2 && memcmp(k->p + 1, name, n) == 0)
		return 1;
	/* Spelled with escapes: decoded to compare. */
	return memchr(k->p, '\\', k->len) != NULL &&
	    jsontext_string_eq(k, name);
}

#define DECODE_NAME_IS(k, lit)	decode_name_is(k, lit, sizeof lit - 1)

/*
 * Find those members in one pass over the description (the last of a
 * name wins, as with jsontext_object_get): other members cost a look at
 * their first letter. desc may run past the object (to the end of the
 * array that holds it): the object's own length is returned.
 */
static size_t
decode_job_find(const struct jsontext_span *desc,
    struct decode_job_members *m)
{
	struct jsontext_span	k, v;
	size_t			st = 0, last = 1;
	const char		*end;
	char			c;

	memset(m, 0, sizeof *m);
	/* The usual description, {"data":VALUE}: no walk for one member. */
	if (desc->len > 9 && memcmp(desc->p, "{\"data\":", 8) == 0) {
		end = jsontext_skip(desc->p + 8, desc->p + desc->len);
		if (end > desc->p + 8 && end < desc->p + desc->len &&
		    *end == '}') {
			m->data.p = desc->p + 8;
			m->data.len = (size_t)(end - m->data.p);
			m->data.type = jsontext_type_of(*m->data.p);
			return (size_t)(end + 1 - desc->p);
		}
	}
	for (; jsontext_object_next(desc, &st, &k, &v); last = st) {
		/* The first letter picks the one name to compare with. */
		c = k.len < 2 ? 0 : k.p[1];
		if ((c == 'k' || c == '\\') && DECODE_NAME_IS(&k, "key"))
			m->key = v;
		else if ((c == 'p' || c == '\\') &&
		    DECODE_NAME_IS(&k, "priority"))
			m->priority = v;
		else if ((c == 'd' || c == '\\') && DECODE_NAME_IS(&k, "delay"))
			m->delay = v;
		else if ((c == 'd' || c == '\\') && DECODE_NAME_IS(&k, "data"))
			m->data = v;
		else if ((c == 'n' || c == '\\') &&
		    DECODE_NAME_IS(&k, "not_before"))
			m->not_before = v;
		else if ((c == 'g' || c == '\\') && DECODE_NAME_IS(&k, "group"))
			m->group = v;
	}
	/* Past the last member: white space, then the closing brace. */
	return (size_t)(jsonscan_ws(desc->p + last, desc->p + desc->len) -
	    desc->p) + 1;
}

/*
 * The flow fields of a job (its members m) into j; NULL, or the message
 * for the first malformed one. null is the same as absent.
 */
static const char *
decode_flow(const struct decode_job_members *mp, struct request_job *j)
{
	int64_t				 prio;
	size_t				 len;
	const char			*why;

	if (mp->priority.p != NULL && mp->priority.type != JSONTEXT_NULL) {
		if (mp->priority.type != JSONTEXT_NUMBER ||
		    jsontext_integer(&mp->priority, JOB_PRIORITY_MIN,
		    JOB_PRIORITY_MAX, &prio) == -1)
			return "\"priority\" must be an integer from -10 to 10";
		j->priority = (int)prio;
	}
	if (mp->delay.p != NULL && mp->delay.type != JSONTEXT_NULL) {
		if (mp->not_before.p != NULL &&
		    mp->not_before.type != JSONTEXT_NULL)
			return "give \"delay\" or \"not_before\", not both";
		if ((why = decode_delay(&mp->delay, &j->delay)) != NULL)
			return why;
	} else if (mp->not_before.p != NULL &&
	    mp->not_before.type != JSONTEXT_NULL &&
	    (why = decode_not_before(&mp->not_before,
	    &j->not_before)) != NULL)
		return why;
	if (mp->group.p != NULL && mp->group.type != JSONTEXT_NULL) {
		if (mp->group.type != JSONTEXT_STRING ||
		    (j->group = jsontext_string_decode(&mp->group,
		    &len)) == NULL ||
		    len == 0 || len > JOB_GROUP_MAX || strlen(j->group) != len)
			return "\"group\" must be a string of 1 to 128 bytes";
	}
	return NULL;
}

/*
 * Append a job to req->jobs with its key and flow fields (desc: as
 * decode_job_find takes it). NULL, or the message for the first
 * malformed one (the job stays, for request_free).
 */
const char *
request_job_add(struct request *req, const struct jsontext_span *desc)
{
	struct decode_job_members	 m;
	struct request_job		*j;
	const char			*why;

	if (req->njobs == req->jobs_room) {
		if (req->jobs == NULL && spare.jobs != NULL) {
			req->jobs = spare.jobs, req->jobs_room = spare.room;
			spare.jobs = NULL;
		} else {
			req->jobs_room = req->jobs_room ? req->jobs_room * 2 : 16;
			req->jobs = xreallocarray(req->jobs, req->jobs_room,
			    sizeof *req->jobs);
		}
	}
	j = &req->jobs[req->njobs++];
	memset(j, 0, sizeof *j);
	j->desc = *desc;
	j->desc.len = decode_job_find(desc, &m);
	j->delay = -1;
	j->data = m.data;
	if ((why = decode_key(&m.key, &j->key)) != NULL)
		return why;
	return decode_flow(&m, j);
}

void
request_jobs_free(struct request *req)
{
	if (spare.jobs == NULL && req->jobs_room <= REQUEST_SPARE_JOBS) {
		spare.jobs = req->jobs, spare.room = req->jobs_room;
		req->jobs = NULL;
	}
	free(req->jobs);
	req->jobs = NULL;
	req->jobs_room = 0;
}
