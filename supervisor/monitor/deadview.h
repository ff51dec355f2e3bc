/*
 * Dead letters over HTTP: GET /dead lists them (read-only, under the
 * status token like /jobs) and POST /retry queues one again, through the
 * same dead_retry() (supervisor/dead.h) as the socket's retry op, so the
 * new job is linked to it by "retry_of" and stays its client's. Who may
 * ask is http.c's business (http_auth.h); each call returns the HTTP
 * status, with the JSON reply in out, or one line of text saying what
 * was wrong.
 */
#ifndef MPSUP_DEADVIEW_H
#define MPSUP_DEADVIEW_H

#include "common/buf.h"

struct supervisor;

/* Records one /dead request returns at most, and without limit=. */
#define DEADVIEW_MAX		1000
#define DEADVIEW_DEFAULT	100
/* An exec dead letter's stdout and stderr shown, each (/job has all). */
#define DEADVIEW_OUTPUT_MAX	4096

/*
 * {"count":N,"jobs":[record, ...]}: the dead letters of pool (NULL: of
 * all pools), oldest first (by when they ended), at most limit (a
 * string, 1..DEADVIEW_MAX; NULL: DEADVIEW_DEFAULT) of the count there
 * are; each an ordinary job record, its output cut to
 * DEADVIEW_OUTPUT_MAX bytes ("output_cut":true).
 */
unsigned int	deadview_list(struct supervisor *, const char *pool,
		    const char *limit, struct buf *out);
/*
 * Retry the dead letter with this id: {"ok":true,"id":"NEW"}; 400 for a
 * malformed id, 404 if it is not a dead letter (unknown, retried already,
 * expired) or its pool was removed, 503 if its pool cannot take the job
 * now (queue_full, shutting_down).
 */
unsigned int	deadview_retry(struct supervisor *, const char *id,
		    struct buf *out);

#endif
