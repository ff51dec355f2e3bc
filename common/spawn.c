/*
 * The fork recipe (see spawn.h). Everything the child needs is prepared
 * before fork(), so that between fork() and exec() the child only makes
 * async-signal-safe calls: no allocation, no stdio, no locks.
 */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
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

#include "common/xmalloc.h"
#include "common/spawn.h"

extern char **environ;

/* What the child works from, all set up before fork(). */
struct spawn_child {
	const struct spawn_spec	*sp;
	int			 report_fd;	/* -1: say it on fd 2 */
	pid_t			 parent;
};

/* How a child that failed at step with errno error exits. */
static int
child_exit_code(const struct spawn_child *c, enum spawn_step step, int error)
{
	if (c->report_fd == -1)
		return 127;
	return step == SPAWN_STEP_EXEC && error == ENOENT ? 127 : 126;
}

/*
 * The child failed at step, in the call named what (on arg): report it
 * through the pipe, or as a line "mpsup: what arg: error" on fd 2, and
 * exit.
 */
static void __attribute__((noreturn))
child_fail(const struct spawn_child *c, enum spawn_step step,
    const char *what, const char *arg)
{
	struct spawn_failure	 f;
	struct iovec		 iov[7];
	const char		*err;
	ssize_t			 n;

	f.step = step;
	f.error = errno;
	f.exit_code = child_exit_code(c, step, f.error);
	if (c->report_fd != -1) {
		do
			n = write(c->report_fd, &f, sizeof f);
		while (n == -1 && errno == EINTR);
		_exit(f.exit_code);
	}
	err = strerror(f.error);
	iov[0].iov_base = (void *)"mpsup: ";
	iov[0].iov_len = 7;
	iov[1].iov_base = (void *)what;
	iov[1].iov_len = strlen(what);
	iov[2].iov_base = (void *)(arg ? " " : "");
	iov[2].iov_len = arg ? 1 : 0;
	iov[3].iov_base = (void *)(arg ? arg : "");
	iov[3].iov_len = arg ? strlen(arg) : 0;
	iov[4].iov_base = (void *)": ";
	iov[4].iov_len = 2;
	iov[5].iov_base = (void *)err;
	iov[5].iov_len = strlen(err);
	iov[6].iov_base = (void *)"\n";
	iov[6].iov_len = 1;
	(void)!writev(STDERR_FILENO, iov, 7);
	_exit(f.exit_code);
}

/* Tests only (see spawn.h). */
int	spawn_test_no_close_range;

/* An entry of a getdents64() listing (struct linux_dirent64). */
struct spawn_dirent {
	uint64_t	d_ino;
	int64_t		d_off;
	unsigned short	d_reclen;
	unsigned char	d_type;
	char		d_name[];
};

/*
 * Close every fd from lowfd up that /proc/self/fd lists. getdents64()
 * directly, as opendir() allocates, which a child of fork() must not.
 * Closing while listing can make the listing skip entries, so it starts
 * over after every batch that closed something, until one closes nothing.
 * Returns 0, or -1 if /proc cannot be listed.
 */
static int
close_listed(int lowfd)
{
	char			 buf[4096] __attribute__((aligned(8)));
	struct spawn_dirent	*de;
	const char		*s;
	long			 n, pos;
	int			 dfd, fd, closed;

	dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return -1;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
		closed = 0;
		for (pos = 0; pos < n; pos += de->d_reclen) {
			de = (struct spawn_dirent *)(buf + pos);
			fd = 0;
			for (s = de->d_name; *s >= '0' && *s <= '9'; s++)
				fd = fd * 10 + (*s - '0');
			if (s == de->d_name || *s != '\0' || fd < lowfd ||
			    fd == dfd)
				continue;
			close(fd);
			closed = 1;
		}
		if (closed && lseek(dfd, 0, SEEK_SET) == -1)
			break;
	}
	close(dfd);
	return n == 0 ? 0 : -1;
}

/*
 * Close every fd from lowfd up, in the child. Without close_range() (old
 * kernels), the fds /proc lists; without /proc either, every number up
 * to the hard RLIMIT_NOFILE, as no fd can be above it unless the limit was
 * lowered after it was opened.
 */
static void
close_from(int lowfd)
{
	struct rlimit	rl;
	long		fd, max = 1L << 20;

#ifdef HAVE_CLOSE_RANGE
	if (!spawn_test_no_close_range &&
	    close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	if (close_listed(lowfd) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < (rlim_t)INT_MAX)
		max = (long)rl.rlim_max;
	for (fd = lowfd; fd < max; fd++)
		close((int)fd);
}

/*
 * In the child: put the wanted fds at 0..nfds-1 (and the report pipe,
 * close-on-exec, right after them), and close every other one.
 */
static void
child_fds(struct spawn_child *c)
{
	const struct spawn_spec	*sp = c->sp;
	int			 tmp[SPAWN_MAX_FDS], i, devnull = -1;
	int			 low = sp->nfds + 1;

	/* Lift them all clear of 0..nfds first, so dup2 cannot clobber one. */
	for (i = 0; i < sp->nfds; i++) {
		if (sp->fds[i] == -1) {
			if (devnull == -1 &&
			    (devnull = open("/dev/null", O_RDWR)) == -1)
				child_fail(c, SPAWN_STEP_SETUP, "open",
				    "/dev/null");
			tmp[i] = fcntl(devnull, F_DUPFD, low);
		} else
			tmp[i] = fcntl(sp->fds[i], F_DUPFD, low);
		if (tmp[i] == -1)
			child_fail(c, SPAWN_STEP_SETUP, "fcntl", NULL);
	}
	if (c->report_fd != -1) {
		if ((i = fcntl(c->report_fd, F_DUPFD_CLOEXEC, low)) == -1)
			child_fail(c, SPAWN_STEP_SETUP, "fcntl", NULL);
		c->report_fd = i;
	}
	for (i = 0; i < sp->nfds; i++)
		if (dup2(tmp[i], i) == -1)
			child_fail(c, SPAWN_STEP_SETUP, "dup2", NULL);
	if (c->report_fd != -1) {
		if (dup3(c->report_fd, sp->nfds, O_CLOEXEC) == -1)
			child_fail(c, SPAWN_STEP_SETUP, "dup3", NULL);
		c->report_fd = sp->nfds;
	}
	close_from(c->report_fd != -1 ? sp->nfds + 1 : sp->nfds);
}

/* In the child: drop to the spec's user and group. */
static void
child_creds(const struct spawn_child *c)
{
	const struct spawn_spec	*sp = c->sp;

	/* Never run with the supervisor's groups: a failure stops here. */
	if (setgroups(0, NULL) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "setgroups", NULL);
	if (sp->user != NULL && initgroups(sp->user, sp->gid) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "initgroups", sp->user);
	if (setgid(sp->gid) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "setgid", NULL);
	if (setuid(sp->uid) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "setuid", NULL);
}

/*
 * The child, from fork() to exec(). Signals stay blocked (as the parent
 * blocked them for fork) until just before exec, with every disposition
 * back to the default, so nothing of the parent's runs in the child.
 */
static void __attribute__((noreturn))
child_main(struct spawn_child *c)
{
	const struct spawn_spec	*sp = c->sp;
	struct sigaction	 sa;
	sigset_t		 none;
	int			 sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	if ((sp->group == SPAWN_GROUP ? setpgid(0, 0) : setsid()) == -1)
		child_fail(c, SPAWN_STEP_SETUP, sp->group == SPAWN_GROUP ?
		    "setpgid" : "setsid", NULL);
	child_fds(c);
	if (sp->set_creds)
		child_creds(c);
	/*
	 * After the credentials: the kernel clears the parent-death signal
	 * when a process changes its user or group. Then check the parent:
	 * if it died before prctl, nobody would send the signal.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "prctl", NULL);
	if (getppid() != c->parent)
		_exit(child_exit_code(c, SPAWN_STEP_SETUP, 0));
	if (sp->cwd != NULL && chdir(sp->cwd) == -1)
		child_fail(c, SPAWN_STEP_CWD, "chdir", sp->cwd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (sp->envp_path) {
		environ = (char **)sp->envp;	/* execvp searches its PATH */
		execvp(sp->path, sp->argv);
	} else
		execvpe(sp->path, sp->argv, sp->envp);
	child_fail(c, SPAWN_STEP_EXEC, "cannot run", sp->path);
}

/* Fork a child that runs sp, reporting to report_fd (or -1). */
static pid_t
spawn_fork(const struct spawn_spec *sp, int report_fd)
{
	struct spawn_child	c;
	sigset_t		all, old;
	pid_t			pid;
	int			saved;

	c.sp = sp;
	c.report_fd = report_fd;
	c.parent = getpid();
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0)
		child_main(&c);
	saved = errno;
	/*
	 * The group exists at once when both sides make it. Not for a new
	 * session: a group leader cannot call setsid(). Until the child has,
	 * spawn_signal() falls back on the process itself.
	 */
	if (pid > 0 && sp->group == SPAWN_GROUP)
		(void)setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
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

struct spawn_sweep {
	pid_t	sid;
	size_t	n;
};

static void
spawn_sweep_one(const struct spawn_proc *p, void *arg)
{
	struct spawn_sweep	*sw = arg;

	if (p->sid != sw->sid)
		return;
	/* The whole group, so that a member forking meanwhile goes. */
	if (p->pgrp > 1)
		(void)kill(-p->pgrp, SIGKILL);
	(void)kill(p->pid, SIGKILL);
	sw->n++;
}

size_t
spawn_sweep_session(pid_t sid)
{
	struct spawn_sweep	sw = { sid, 0 };

	(void)spawn_procs_each(spawn_sweep_one, &sw);
	return sw.n;
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
