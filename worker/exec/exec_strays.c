/*
 * Killing what an exec job left behind (see exec_strays.h). Reads /proc
 * (Linux), as the subreaper it relies on is Linux's too.
 *
 * Signalling a child by its pid is safe from pid reuse: only its parent
 * (this process) can reap it, and nothing here reaps while it scans.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "common/spawn.h"

#include "worker/exec/exec_strays.h"

struct exec_strays {
	pid_t	self, pgid;
	int	n;
};

/* A child of ours is killed and counted; a member of the job's group counted. */
static void
exec_strays_one(const struct spawn_proc *p, void *arg)
{
	struct exec_strays	*st = arg;

	if (p->ppid == st->self) {
		if (p->state != 'Z' && kill(p->pid, SIGKILL) == -1 &&
		    errno == EPERM)
			return;
		st->n++;
	} else if (st->pgid > 0 && p->pgrp == st->pgid)
		st->n++;	/* dying; its children come here next */
}

int
exec_strays_kill(pid_t pgid)
{
	struct exec_strays	st = { getpid(), pgid, 0 };

	if (spawn_procs_each(exec_strays_one, &st) == -1)
		return -1;
	return st.n;
}
