/*
 * The spawn recipe, the parent's half (see spawn.h and spawn_impl.h):
 * everything the child needs is prepared before the clone, so that
 * between clone and exec the child (spawn_child.c) only makes
 * async-signal-safe calls: no allocation, no stdio, no locks. Also
 * signalling children and sweeping what they leave behind.
 */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND	0
#endif

#include "common/xmalloc.h"
#include "common/spawn.h"
#include "common/spawn_impl.h"

/* The child's stack: spawns never overlap (the parent waits for exec). */
static char	spawn_stack[64 * 1024] __attribute__((aligned(16)));

/* The value of NAME= in envp, or NULL. */
static const char *
env_value(char *const *envp, const char *name)
{
	size_t	n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/*
 * What the child cannot do without allocating, done here: the PATH it
 * searches and the supplementary groups of the user it becomes.
 */
static void
spawn_prepare(struct spawn_child *c)
{
	const struct spawn_spec	*sp = c->sp;
	int			 n = 32, want;

	c->path = sp->envp_path ? env_value(sp->envp, "PATH") :
	    getenv("PATH");
	if (!sp->set_creds || sp->user == NULL)
		return;
	for (;;) {
		c->groups = xreallocarray(c->groups, (size_t)n,
		    sizeof *c->groups);
		want = n;
		errno = 0;
		if (getgrouplist(sp->user, sp->gid, c->groups, &want) != -1) {
			c->ngroups = want;
			return;
		}
		if (want <= n || want > 65536) {
			c->ngroups = -1;
			c->groups_error = errno ? errno : EINVAL;
			return;
		}
		n = want;
	}
}

/*
 * Descriptors held for spawns (spawn_reserve_fds()), each a /dev/null
 * until a spawn moves one of the child's fds there: the child shares our
 * table and copies only the fds below its highest one into a table of its
 * own, a handful instead of every worker's pipes. -1: none reserved.
 */
static int	spawn_slots[SPAWN_MAX_FDS + 1] = { -1, -1, -1, -1, -1, -1 };
static int	spawn_null = -1;
/* Set once clone() has refused CLONE_FILES. */
static int	spawn_no_clone_files;

/* Below this many fds over the highest slot, moving them costs more. */
#define SPAWN_SLOT_GAIN	32

int
spawn_reserve_fds(void)
{
	int	i;

	if (spawn_null != -1)
		return 0;
	if ((spawn_null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i <= SPAWN_MAX_FDS; i++) {
		spawn_slots[i] = fcntl(spawn_null, F_DUPFD_CLOEXEC, 0);
		if (spawn_slots[i] != -1)
			continue;
		while (i-- > 0) {
			close(spawn_slots[i]);
			spawn_slots[i] = -1;
		}
		close(spawn_null);
		spawn_null = -1;
		return -1;
	}
	return 0;
}

/* Put /dev/null back into the slots in moved (a bit per slot). */
static void
spawn_unplace_fds(unsigned moved)
{
	for (int i = 0; i <= SPAWN_MAX_FDS; i++)
		if (moved & (1U << i))
			(void)dup3(spawn_null, spawn_slots[i], O_CLOEXEC);
}

/*
 * The child's fds (sp's and the report pipe) into c, moved into the
 * slots when they sit high above them, and the bound of the table the
 * child keeps. Returns the slots used, for spawn_unplace_fds().
 */
static unsigned
spawn_place_fds(struct spawn_child *c, int report_fd)
{
	const struct spawn_spec	*sp = c->sp;
	unsigned		 moved = 0;
	int			 i, *fd, top = 0;

	for (i = 0; i <= SPAWN_MAX_FDS; i++) {
		fd = i < SPAWN_MAX_FDS ? &c->fds[i] : &c->report_fd;
		*fd = i < SPAWN_MAX_FDS ? (i < sp->nfds ? sp->fds[i] : -1) :
		    report_fd;
		if (*fd > top)
			top = *fd;
	}
	if (spawn_null != -1 && top > spawn_slots[SPAWN_MAX_FDS] +
	    SPAWN_SLOT_GAIN) {
		top = 0;
		for (i = 0; i <= SPAWN_MAX_FDS; i++) {
			fd = i < SPAWN_MAX_FDS ? &c->fds[i] : &c->report_fd;
			if (*fd != -1 &&
			    dup3(*fd, spawn_slots[i], O_CLOEXEC) != -1) {
				*fd = spawn_slots[i];
				moved |= 1U << i;
			}
			if (*fd > top)
				top = *fd;
		}
	}
	c->files_bound = top + 1;
	return moved;
}

/*
 * The clone itself: sharing our descriptor table (see spawn_impl.h),
 * or, where clone() refuses that, with a copy of it. Valgrind runs a
 * clone() with CLONE_VFORK only without CLONE_FILES (it stops the
 * program otherwise), so under it (when built with its header) spawns
 * copy the table.
 */
static pid_t
spawn_clone(struct spawn_child *c)
{
	char	*stack = spawn_stack + sizeof spawn_stack;
	pid_t	 pid;

	if (!spawn_no_clone_files && !RUNNING_ON_VALGRIND) {
		pid = clone(spawn_child_entry, stack,
		    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, c);
		if (pid != -1 || errno != EINVAL)
			return pid;
		spawn_no_clone_files = 1;
	}
	c->files_bound = 0;
	return clone(spawn_child_entry, stack, CLONE_VM | CLONE_VFORK | SIGCHLD,
	    c);
}

/*
 * Clone a child that runs sp, reporting to report_fd (or -1). The child
 * shares our memory until it execs and we wait until then (vfork); under
 * a tool that turns that into a plain fork (Valgrind), it still works,
 * as the child writes nothing of ours.
 */
static pid_t
spawn_fork(const struct spawn_spec *sp, int report_fd)
{
	struct spawn_child	c;
	sigset_t		all, old;
	pid_t			pid;
	unsigned		moved;
	int			saved;

	memset(&c, 0, sizeof c);
	c.sp = sp;
	c.parent = getpid();
	spawn_prepare(&c);
	moved = spawn_place_fds(&c, report_fd);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = spawn_clone(&c);
	saved = errno;
	/*
	 * The group exists at once when both sides make it. Not for a new
	 * session: a group leader cannot call setsid(). Until the child has,
	 * spawn_signal() falls back on the process itself.
	 */
	if (pid > 0 && sp->group == SPAWN_GROUP)
		(void)setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	spawn_unplace_fds(moved);
	free(c.groups);
	errno = saved;
	return pid;
}

pid_t
spawn_process(const struct spawn_spec *sp)
{
	return spawn_fork(sp, -1);
}

/*
 * The report pipe is close-on-exec in the child: EOF means the exec
 * happened, a struct spawn_failure that it did not.
 */
pid_t
spawn_process_report(const struct spawn_spec *sp, struct spawn_failure *fail)
{
	ssize_t	n;
	pid_t	pid;
	int	report[2], saved;

	memset(fail, 0, sizeof *fail);
	if (pipe2(report, O_CLOEXEC) == -1)
		return -1;
	pid = spawn_fork(sp, report[1]);
	saved = errno;
	close(report[1]);
	if (pid != -1) {
		do
			n = read(report[0], fail, sizeof *fail);
		while (n == -1 && errno == EINTR);
		if (n != (ssize_t)sizeof *fail)
			memset(fail, 0, sizeof *fail);
	}
	close(report[0]);
	errno = saved;
	return pid;
}

/*
 * No group pid means the child has not called setsid() yet, or it is gone
 * with its whole group. Only in the first case is the pid still the
 * child's: an unreaped child (running or a zombie) holds on to its pid, a
 * reaped one may have been handed to anyone since. waitid(WNOWAIT) tells
 * the two apart without reaping, and nothing reaps between it and kill()
 * in a process whose children are reaped on its event loop.
 */
int
spawn_signal(pid_t pid, int sig)
{
	siginfo_t	si;

	if (kill(-pid, sig) == 0 || errno != ESRCH)
		return 0;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
		errno = ESRCH;
		return -1;
	}
	return kill(pid, sig);
}

/* Read /proc/NAME/stat into p; -1 if the process is gone. */
static int
spawn_proc_read(int dirfd, const char *name, struct spawn_proc *p)
{
	char	 path[64], buf[512], *c;
	ssize_t	 n;
	int	 fd, pp, pg, sn;

	snprintf(path, sizeof path, "%s/stat", name);
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp session ...": comm may hold ')'. */
	if ((c = strrchr(buf, ')')) == NULL ||
	    sscanf(c + 1, " %c %d %d %d", &p->state, &pp, &pg, &sn) != 4)
		return -1;
	p->pid = (pid_t)strtol(name, NULL, 10);
	p->ppid = pp;
	p->pgrp = pg;
	p->sid = sn;
	return 0;
}

int
spawn_procs_each(void (*fn)(const struct spawn_proc *, void *), void *arg)
{
	struct spawn_proc	 p;
	struct dirent		*de;
	DIR			*dir;
	pid_t			 self = getpid();

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    spawn_proc_read(dirfd(dir), de->d_name, &p) == -1 ||
		    p.pid == self)
			continue;
		fn(&p, arg);
	}
	closedir(dir);
	return 0;
}

/*
 * One getsid() per process that /proc lists, not a read of its stat file:
 * a restart sweeps the session of the worker it replaces, and on a
 * machine with a few hundred processes opening, reading and parsing each
 * /proc/PID/stat cost ~5 us a process (~1.3 ms at 260), against well
 * under 1 us for getsid(). A pid that is gone by the time it is asked
 * about simply does not match.
 */
size_t
spawn_sweep_session(pid_t sid)
{
	struct dirent	*de;
	DIR		*dir;
	pid_t		 pid, pgrp, self = getpid(), own = getpgrp();
	size_t		 n = 0;
	char		*end;

	if ((dir = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = (pid_t)strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid == self || getsid(pid) != sid)
			continue;
		/*
		 * Only if pid is still in the session once its group is read:
		 * it may have exited, and its number been reused, between the
		 * calls. Then the whole group, so that a member forking
		 * meanwhile goes, but never our own, which is in no worker's
		 * session.
		 */
		if ((pgrp = getpgid(pid)) == -1 || getsid(pid) != sid)
			continue;
		if (pgrp > 1 && pgrp != own)
			(void)kill(-pgrp, SIGKILL);
		(void)kill(pid, SIGKILL);
		n++;
	}
	closedir(dir);
	return n;
}

long
spawn_count_children(void)
{
	char	buf[4096];
	ssize_t	n;
	long	count = 0;
	int	fd, in_pid = 0;

	fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	/* "PID PID ... ": count the words. */
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				count += !in_pid;
				in_pid = 1;
			} else
				in_pid = 0;
		}
	close(fd);
	return n == 0 ? count : -1;
}

/* Index of the entry for KEY= in v, or -1. */
static int
env_find(char **v, size_t n, const char *kv)
{
	size_t	 klen = strcspn(kv, "=");

	for (size_t i = 0; i < n; i++)
		if (strncmp(v[i], kv, klen) == 0 && v[i][klen] == '=')
			return (int)i;
	return -1;
}

char **
spawn_env_build(char *const *base, char *const *overrides, size_t noverrides)
{
	char	**v;
	size_t	  n = 0, nbase = 0, i;
	int	  at;

	while (base != NULL && base[nbase] != NULL)
		nbase++;
	v = xcalloc(nbase + noverrides + 1, sizeof *v);
	for (i = 0; i < nbase; i++)
		if (strchr(base[i], '=') != NULL)
			v[n++] = xstrdup(base[i]);
	for (i = 0; i < noverrides; i++) {
		at = env_find(v, n, overrides[i]);
		if (strchr(overrides[i], '=') == NULL) {
			/* A bare name unsets. */
			if (at != -1) {
				free(v[at]);
				memmove(v + at, v + at + 1,
				    (n - at - 1) * sizeof *v);
				n--;
			}
		} else if (at != -1) {
			free(v[at]);
			v[at] = xstrdup(overrides[i]);
		} else
			v[n++] = xstrdup(overrides[i]);
	}
	v[n] = NULL;
	return v;
}

void
spawn_env_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
