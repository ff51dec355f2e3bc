/*
 * Starting the process of a pool's worker: the pipes between it and the
 * supervisor, its argv and environment, then the one fork recipe. The
 * worker module (worker.h) owns what this returns.
 */
#ifndef MPSUP_WORKER_PROC_H
#define MPSUP_WORKER_PROC_H

#include <sys/types.h>

struct pool_config;

/* The supervisor's ends of a new worker's pipes (non-blocking, close-on-exec). */
struct worker_fds {
	int	out;		/* its stdout, with job_fds = 3,4; else -1 */
	int	err;		/* its stderr */
	int	job_in;		/* we write job lines */
	int	job_out;	/* we read result lines */
};

/*
 * Fork and exec worker index of pool pc (self_exe is the exec worker's
 * binary; dir the folder when pc names none). Returns its pid (also its
 * session and process group), or -1 after logging why.
 */
pid_t	worker_proc_start(const struct pool_config *pc, int index,
	    const char *self_exe, const char *dir, struct worker_fds *);

#endif
