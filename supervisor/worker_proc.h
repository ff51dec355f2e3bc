/*
 * Starting the process of a pool's worker: the pipes between it and the
 * supervisor, its argv and environment, then the one fork recipe. The
 * worker module (worker.h) owns what this returns.
 */
#ifndef MPSUP_WORKER_PROC_H
#define MPSUP_WORKER_PROC_H

#include <sys/types.h>

struct pool_config;
struct worker_proc;

/* The supervisor's ends of a new worker's pipes (non-blocking, close-on-exec). */
struct worker_fds {
	int	out;		/* its stdout, with job_fds = 3,4; else -1 */
	int	err;		/* its stderr */
	int	job_in;		/* we write job lines */
	int	job_out;	/* we read result lines */
};

/*
 * What every worker of pool config pc is started with (argv, environment),
 * built once (self_exe is the exec worker's binary). Valid while pc is.
 */
struct worker_proc	*worker_proc_new(const struct pool_config *pc,
			    const char *self_exe);
void			 worker_proc_free(struct worker_proc *);

/*
 * Fork and exec worker index of pool pc, as wp (built from pc) says; dir
 * is the folder when pc names none. Returns its pid (also its session and
 * process group), or -1 after logging why.
 */
pid_t	worker_proc_start(struct worker_proc *wp, const struct pool_config *pc,
	    int index, const char *dir, struct worker_fds *);
/* A process worker_proc_start() returned has been reaped (or given up). */
void	worker_proc_reaped(void);
/*
 * Whether a worker gone may have left processes behind, anywhere in its
 * session: 0 only when we are a subreaper and have no child but the
 * workers not yet reaped, as whatever outlives a worker is reparented to
 * us. Then the gone worker's session is empty, and sweeping it (a pass
 * over /proc) can be skipped.
 */
int	worker_proc_orphans_possible(void);
/* Describe a wait status for the log. */
void	worker_proc_describe(int status, char *out, size_t len);
/* Kill what a worker gone as pid left in its session; log how many. */
void	worker_proc_sweep_session(const char *pool, int index, pid_t pid);

#endif
