/*
 * One job of the exec worker, running: its process (in a process group of
 * its own, started by the common fork recipe), its stdin fed from the
 * job's "stdin", its stdout and stderr forwarded line by line to the
 * worker's own fds 1 and 2 (which the supervisor logs) and/or captured
 * for the result up to a cap, and its timeout.
 *
 * A run is over when its process has been reaped, both output pipes
 * have hit EOF, in either order (tmux job.c), and nothing of the job is
 * left. When the process exits, whatever is left of its group is killed,
 * and so is every process that moved out of it (exec_strays.h): a job
 * leaves no strays, whether it ended, timed out or was cancelled. Should
 * some survive EXEC_RUN_SWEEP_SECS of SIGKILLs (they changed user), the
 * run ends anyway; a process that holds the pipes open gets
 * EXEC_RUN_DRAIN_SECS before the pipes are closed on it. Then the run
 * calls back its owner, which takes the result and frees it.
 */
#ifndef MPSUP_EXEC_RUN_H
#define MPSUP_EXEC_RUN_H

#include <stddef.h>

#include <ev.h>
#include <jansson.h>

#include "worker/exec/exec_job.h"

#define EXEC_RUN_DRAIN_SECS	1.0
#define EXEC_RUN_SWEEP_SECS	5.0

/* Where a job's output goes. */
enum exec_output {
	EXEC_OUTPUT_LOG,	/* forwarded to fds 1 and 2 */
	EXEC_OUTPUT_CAPTURE,	/* kept for the result */
	EXEC_OUTPUT_BOTH,
};

struct exec_run;

/* Called once, when a run is over; the owner then frees it. */
typedef void	(*exec_run_done_cb)(struct exec_run *, void *arg);

/* What every run of a worker shares; borrowed by each run. */
struct exec_run_settings {
	struct ev_loop		*loop;
	enum exec_output	 output;
	size_t			 capture_max;	/* per stream */
	exec_run_done_cb	 done;
	void			*arg;
};

/*
 * Start job (takes ownership): its pipes, its process and the watchers,
 * all before control returns to the loop. If no process could be started
 * the job is given back: NULL with *cause set (the caller frees both).
 */
struct exec_run	*exec_run_start(struct exec_job *job,
		    const struct exec_run_settings *, char **cause);
/* The job a run runs. */
struct exec_job	*exec_run_job(struct exec_run *);
/* Cancel a run: SIGKILL its group, and say so in the result. */
void		 exec_run_cancel(struct exec_run *);
/*
 * Stop a run for good: SIGKILL its group and what it left behind, and reap
 * them now (for exiting; blocks up to EXEC_RUN_SWEEP_SECS).
 */
void		 exec_run_kill(struct exec_run *);
/*
 * The "result" object of a run that is over (a new reference); with NULL,
 * that of a job cancelled before it started.
 */
json_t		*exec_run_result(const struct exec_run *,
		    const struct exec_run_settings *);
/* Free a run and its job. */
void		 exec_run_free(struct exec_run *);

#endif
