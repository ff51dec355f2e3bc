/*
 * Starting an exec job's process with the one fork recipe (common/spawn.h):
 * a fresh process group, PR_SET_PDEATHSIG, fds 0-2 only, and why its
 * command could not start (not found: 127, cannot run: 126).
 */
#ifndef MPSUP_EXEC_SPAWN_H
#define MPSUP_EXEC_SPAWN_H

#include <sys/types.h>

struct exec_job;

/* Why a job's command did not start (the child still exits and is reaped). */
struct exec_spawn_error {
	int	 exit_code;	/* 127 not found, 126 cannot run */
	char	*message;	/* caller frees */
};

pid_t	exec_spawn_job(struct exec_job *, int, int, int,
	    struct exec_spawn_error *);

#endif
