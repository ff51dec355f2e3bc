/*
 * Jobs as the HTTP endpoint shows them: a job's whole record by id
 * (GET /job) and the recent jobs as one-line summaries (GET /jobs), for
 * the dashboard's "what failed?". Each call returns the HTTP status; on
 * success out holds the JSON reply, else one line of text saying what
 * was wrong. Nothing here changes a job.
 */
#ifndef MPSUP_JOBVIEW_H
#define MPSUP_JOBVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct supervisor;

/* Summaries one /jobs request returns at most, and without limit=. */
#define JOBVIEW_MAX		1000
#define JOBVIEW_DEFAULT		50
/* Bytes of a summary's first line of stderr at most. */
#define JOBVIEW_LINE_MAX	200

/* The query of GET /jobs, each parameter as sent or NULL. */
struct jobview_query {
	const char	*pool;		/* a pool's name */
	const char	*state;		/* "failed,timed_out" */
	const char	*since;		/* a duration: changed within it */
	const char	*limit;		/* 1..JOBVIEW_MAX */
};

/* An exec job's stdout and stderr shown by /job at most, each, by default. */
#define JOBVIEW_OUTPUT_DEFAULT	(1u << 20)
#define JOBVIEW_OUTPUT_MAX	(64u << 20)

/*
 * The record of the job with this id (the query's, or NULL if none), with
 * an exec job's stdout and stderr cut to output_max bytes each (a size,
 * "64K"; NULL: JOBVIEW_OUTPUT_DEFAULT); a record cut so says
 * "output_cut":true.
 */
unsigned int	jobview_record(const char *id, const char *output_max,
		    struct buf *out);
/*
 * Append the record text rec (len bytes, one JSON object) and a newline
 * to out, its "stdout" and "stderr" cut to max bytes each (a string
 * between characters, {"$bytes":...} in whole base64 quanta).
 */
void		jobview_record_cut(const char *rec, size_t len, uint64_t max,
		    struct buf *out);
/* {"jobs":[summary, ...]}: the newest jobs that match q, newest first. */
unsigned int	jobview_list(struct supervisor *, const struct jobview_query *q,
		    struct buf *out);
/*
 * The first line of an exec job's stderr that is not blank, from the job
 * record's members text (its "result"): at most JOBVIEW_LINE_MAX bytes as
 * the body of a JSON string, appended to out; 0, or -1 if there is none.
 */
int		jobview_stderr_line(const char *members, size_t len,
		    struct buf *out);

#endif
