/*
 * Killing what an exec job left behind (see exec_strays.h). Linux only,
 * as the subreaper it relies on is.
 *
 * The worker's children come from /proc/self/task/TID/children, one small
 * read, rather than from a walk over every process /proc lists (which
 * cost some 350 system calls a job on a quiet machine, more than the job
 * itself); the walk stays as the fallback for kernels without that file.
 * Whether the job's group still has members is asked of kill(-pgid, 0).
 *
 * Signalling a child by its pid is safe from pid reuse: only its parent
 * (this process) can reap it, and nothing here reaps while it scans.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/spawn.h"
#include "worker/exec/exec_strays.h"

struct exec_strays {
	pid_t	self, pgid;
	int	n;
};

/* A child is killed and counted, unless it cannot be signalled. */
static void
exec_strays_child(pid_t pid, struct exec_strays *st)
{
	if (kill(pid, SIGKILL) == -1 && errno == EPERM)
		return;
	st->n++;
}

/* Walk /proc: a child of ours killed and counted, a member of the group counted. */
static void
exec_strays_one(const struct spawn_proc *p, void *arg)
{
	struct exec_strays	*st = arg;

	if (p->ppid == st->self) {
		if (p->state != 'Z')
			exec_strays_child(p->pid, st);
		else
			st->n++;
	} else if (st->pgid > 0 && p->pgrp == st->pgid)
		st->n++;	/* dying; its children come here next */
}

/*
 * Our children as the kernel lists them; -1 if the file is not there. A
 * list longer than the buffer is read on: it goes on where it stopped.
 */
static int
exec_strays_children(struct exec_strays *st)
{
	char	 path[64], buf[4096];
	ssize_t	 n, i;
	long	 pid = 0;
	int	 fd, digits = 0;

	snprintf(path, sizeof path, "/proc/self/task/%ld/children",
	    (long)syscall(SYS_gettid));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				pid = pid * 10 + (buf[i] - '0');
				digits++;
				continue;
			}
			if (digits > 0)
				exec_strays_child((pid_t)pid, st);
			pid = 0;
			digits = 0;
		}
	}
	if (digits > 0)
		exec_strays_child((pid_t)pid, st);
	close(fd);
	return n == -1 ? -1 : 0;
}

int
exec_strays_kill(pid_t pgid)
{
	struct exec_strays	st = { getpid(), pgid, 0 };

	if (exec_strays_children(&st) == -1) {
		st.n = 0;
		if (spawn_procs_each(exec_strays_one, &st) == -1)
			return -1;
		return st.n;
	}
	/* Members of the job's group, which pass their children on as they die. */
	if (pgid > 0 && (kill(-pgid, 0) == 0 || errno == EPERM))
		st.n++;
	return st.n;
}
