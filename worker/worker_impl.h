/*
 * The C worker library's insides, shared by its files: worker.c (the
 * channel and handing out jobs), worker_line.c (parsing a job line) and
 * worker_reply.c (encoding and writing replies). Nothing here is
 * installed; the names that are not static carry the library's prefix,
 * since third parties link them into their programs.
 */
#ifndef MPSUP_WORKER_IMPL_H
#define MPSUP_WORKER_IMPL_H

#include <stddef.h>
#include <time.h>

#include "mpsup/worker.h"

#define WORKER_IN_SIZE		(64 * 1024)	/* first input buffer */
#define WORKER_IN_KEEP		(4 * 1024 * 1024) /* shrink back above this */
#define WORKER_OUT_HIGH		(64 * 1024)	/* write once this much waits */
#define WORKER_OUT_KEEP		(1024 * 1024)
#define WORKER_OUT_WAIT_NS	1000000L	/* 1ms: see mpsup_worker_out_due */

struct mpsup_worker {
	int		 in_fd;
	int		 out_fd;

	char		*in;
	size_t		 in_off;	/* start of the next line */
	size_t		 in_len;	/* end of what was read */
	size_t		 in_cap;
	size_t		 in_scan;	/* no newline in [in_off, in_scan) */
	size_t		 max_line;
	int		 eof;
	int		 discarding;	/* skipping the rest of a long line */
	char		 long_id[128];	/* id of the line being skipped */

	char		*out;
	size_t		 out_len;
	size_t		 out_cap;
	struct timespec	 out_since;	/* when out became non-empty */
	struct timespec	 handed;	/* when the last job was handed out */
	int		 out_errno;	/* sticky write error */
	int		 ready_sent;	/* mpsup_worker_ready() ran */
};

/*
 * Parse the job line [p, end) in place into *job: 1, or -1 with
 * job->error set (and job->id if the line had a usable one).
 */
int		 mpsup_worker_parse_line(char *p, char *end,
		    struct mpsup_job *job);
/* The id at the start of a line too long to parse, copied, or NULL. */
const char	*mpsup_worker_peek_id(struct mpsup_worker *, const char *p,
		    size_t len);
/* Whether buffered replies are due although more jobs wait. */
int		 mpsup_worker_out_due(struct mpsup_worker *,
		    const struct timespec *now);
/* Wait until fd is ready for events; 0 or -1. */
int		 mpsup_worker_wait_fd(int fd, short events);

#endif
