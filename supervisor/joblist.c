/*
 * Recent jobs (see joblist.h): one pass over the id table keeps the newest
 * `limit` jobs that pass the filter in a min-heap ordered by id (the
 * oldest kept at its root, replaced by anything newer), then sorts them
 * newest first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "supervisor/joblist.h"

struct joblist_scan {
	const struct joblist_filter	 *f;
	const struct job		**heap;
	size_t				  n;
	size_t				  limit;
};

double
joblist_changed_at(const struct job *job)
{
	if (job_finished_at(job) > 0)
		return job_finished_at(job);
	if (job_started_at(job) > 0)
		return job_started_at(job);
	return job->submitted_at;
}

/* Whether a is older than b (ids sort by submission time, then sequence). */
static int
joblist_older(const struct job *a, const struct job *b)
{
	return memcmp(a->id, b->id, JOB_ID_LEN) < 0;
}

static void
joblist_sift_up(const struct job **h, size_t i)
{
	const struct job	*t;
	size_t			 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (!joblist_older(h[i], h[p]))
			break;
		t = h[i], h[i] = h[p], h[p] = t;
		i = p;
	}
}

static void
joblist_sift_down(const struct job **h, size_t n)
{
	const struct job	*t;
	size_t			 i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && joblist_older(h[c + 1], h[c]))
			c++;
		if (!joblist_older(h[c], h[i]))
			break;
		t = h[i], h[i] = h[c], h[c] = t;
		i = c;
	}
}

static int
joblist_match(const struct joblist_filter *f, const struct job *job)
{
	if (f->states != 0 && (f->states & JOBLIST_STATE(job->state)) == 0)
		return 0;
	if (f->pool != NULL && (job->owner == NULL ||
	    strcmp(job->owner->name, f->pool) != 0))
		return 0;
	if (f->since > 0 && joblist_changed_at(job) < f->since)
		return 0;
	return f->visible == NULL || f->visible(job, f->arg);
}

static void
joblist_visit_cb(struct job *job, void *arg)
{
	struct joblist_scan	*s = arg;

	if (!joblist_match(s->f, job))
		return;
	if (s->n < s->limit) {
		s->heap[s->n] = job;
		joblist_sift_up(s->heap, s->n++);
	} else if (joblist_older(s->heap[0], job)) {
		s->heap[0] = job;
		joblist_sift_down(s->heap, s->n);
	}
}

static int
joblist_newer_first(const void *a, const void *b)
{
	const struct job	*ja = *(const struct job *const *)a;
	const struct job	*jb = *(const struct job *const *)b;

	return memcmp(jb->id, ja->id, JOB_ID_LEN);
}

size_t
joblist_query(const struct joblist_filter *f, const struct job ***out)
{
	struct joblist_scan	s;
	size_t			count = job_table_count();

	memset(&s, 0, sizeof s);
	s.f = f;
	s.limit = f->limit == 0 || f->limit > JOBLIST_MAX ?
	    JOBLIST_MAX : f->limit;
	if (s.limit > count)
		s.limit = count;
	*out = NULL;
	if (s.limit == 0)
		return 0;
	s.heap = xcalloc(s.limit, sizeof *s.heap);
	job_table_foreach(joblist_visit_cb, &s);
	if (s.n == 0) {
		free(s.heap);
		return 0;
	}
	qsort(s.heap, s.n, sizeof *s.heap, joblist_newer_first);
	*out = s.heap;
	return s.n;
}

int
joblist_parse_states(const char *s, size_t len, unsigned *states,
    const char **err)
{
	const char	*end = s + len, *comma, *name;
	size_t		 n;
	int		 i;

	*states = 0;
	while (s <= end) {
		comma = memchr(s, ',', (size_t)(end - s));
		n = (size_t)((comma != NULL ? comma : end) - s);
		for (i = 0; i < JOB_NSTATES; i++) {
			name = job_state_name((enum job_state)i);
			if (strlen(name) == n && memcmp(name, s, n) == 0)
				break;
		}
		if (i == JOB_NSTATES) {
			*err = "unknown state (queued, running, done, failed, "
			    "timed_out, cancelled)";
			return -1;
		}
		*states |= JOBLIST_STATE(i);
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	return 0;
}
