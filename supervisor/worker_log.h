/*
 * A worker's log pipe, its stdout or its stderr (for worker.c): read
 * without blocking, cut into lines (common/linebuf.h), and each line
 * written to the output log tagged with the worker and the job it runs
 * at that moment. While the output log lags (output_congested()), the
 * pipes are not watched: a worker that goes on writing blocks once its
 * pipe is full, and nothing it wrote is lost. They are watched again
 * once the log caught up.
 */
#ifndef MPSUP_WORKER_LOG_H
#define MPSUP_WORKER_LOG_H

#include <ev.h>
#include <stddef.h>

#include "supervisor/output.h"

struct worker;
struct worker_log;

/* Watch fd, the non-blocking read end of one of w's log pipes. */
struct worker_log *worker_log_open(struct worker *, struct ev_loop *,
		    int fd, enum output_stream, size_t max_line);
/*
 * Read what the pipe holds right now (so that lines written before a
 * result are tagged with its job). 1 if the pipe ended: wl is freed.
 */
int		 worker_log_read_now(struct worker_log *);
/* Close and free; with drain, write out a last line that has no newline. */
void		 worker_log_close(struct worker_log *, int drain);

/* Implemented by worker.c: the tag of a line w writes now. */
void		 worker_log_tag(struct worker *, struct output_tag *);
/* Implemented by worker.c: w's pipe ended while watched (it is freed). */
void		 worker_log_ended(struct worker *, enum output_stream);

#endif
