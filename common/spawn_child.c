/*
 * The child half of the spawn recipe (see spawn_impl.h): from clone() to
 * exec(). Signals stay blocked (as the parent blocked them for the clone)
 * until just before exec, with every disposition back to the default, so
 * nothing of the parent's runs in the child; no allocation, no stdio, no
 * locks, and no write outside the child's own stack.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/spawn.h"
#include "common/spawn_impl.h"

/* How a child that failed at step with errno error exits. */
static int SPAWN_CHILD_FN
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
static void __attribute__((noreturn)) SPAWN_CHILD_FN
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
static int SPAWN_CHILD_FN
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
static void SPAWN_CHILD_FN
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
 * A child cloned with CLONE_FILES shares our descriptor table: before it
 * opens, moves or closes anything, it takes a table of its own. With
 * CLOSE_RANGE_UNSHARE the kernel copies only the fds below the bound,
 * where the parent put the ones the child needs; without, unshare()
 * copies the whole table (what clone() would have done).
 */
static void SPAWN_CHILD_FN
child_own_files(struct spawn_child *c)
{
	if (c->files_bound == 0)
		return;
#ifdef HAVE_CLOSE_RANGE
	if (!spawn_test_no_close_range &&
	    close_range((unsigned)c->files_bound, ~0U, CLOSE_RANGE_UNSHARE) == 0)
		return;
#endif
	if (unshare(CLONE_FILES) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "unshare", NULL);
}

/*
 * In the child: put the wanted fds at 0..nfds-1 (and the report pipe,
 * close-on-exec, right after them), and close every other one.
 */
static void SPAWN_CHILD_FN
child_fds(struct spawn_child *c)
{
	const struct spawn_spec	*sp = c->sp;
	int			 tmp[SPAWN_MAX_FDS], i, devnull = -1;
	int			 low = sp->nfds + 1;

	/* Lift them all clear of 0..nfds first, so dup2 cannot clobber one. */
	for (i = 0; i < sp->nfds; i++) {
		if (c->fds[i] == -1) {
			if (devnull == -1 &&
			    (devnull = open("/dev/null", O_RDWR)) == -1)
				child_fail(c, SPAWN_STEP_SETUP, "open",
				    "/dev/null");
			tmp[i] = fcntl(devnull, F_DUPFD, low);
		} else
			tmp[i] = fcntl(c->fds[i], F_DUPFD, low);
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
static void SPAWN_CHILD_FN
child_creds(const struct spawn_child *c)
{
	const struct spawn_spec	*sp = c->sp;

	/* Never run with the supervisor's groups: a failure stops here. */
	if (setgroups(0, NULL) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "setgroups", NULL);
	if (sp->user != NULL && c->ngroups < 0) {
		errno = c->groups_error;
		child_fail(c, SPAWN_STEP_SETUP, "initgroups", sp->user);
	}
	if (sp->user != NULL &&
	    setgroups((size_t)c->ngroups, c->groups) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "initgroups", sp->user);
	if (setgid(sp->gid) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "setgid", NULL);
	if (setuid(sp->uid) == -1)
		child_fail(c, SPAWN_STEP_SETUP, "setuid", NULL);
}

/*
 * Run file by /bin/sh, with argv after argv[0], as execvp() does for a
 * file without #!: an argument array on the stack, no allocation.
 */
static void SPAWN_CHILD_FN
child_exec_script(char *const argv[], char *const envp[], const char *file)
{
	size_t	n = 0, i;

	if (errno != ENOEXEC)
		return;
	while (argv[n] != NULL)
		n++;
	if (n > 4096) {
		errno = E2BIG;
		return;
	}
	{
		char	*sh[n + 2];

		sh[0] = (char *)"/bin/sh";
		sh[1] = (char *)file;
		for (i = 1; i <= n; i++)
			sh[i + 1] = argv[i];
		execve("/bin/sh", sh, envp);
	}
	errno = ENOEXEC;
}

/*
 * execve() name as execvpe() would, searching path (a PATH value, or
 * NULL for the default) when name has no '/', but without touching
 * environ, which the child shares with the parent. A file the kernel
 * cannot execute (ENOEXEC: a script without #!) is run by /bin/sh, as
 * execvp() does. Returns (with errno set) only if nothing ran.
 */
static void SPAWN_CHILD_FN
child_exec(char *const argv[], char *const envp[], const char *name,
    const char *path)
{
	char		 buf[PATH_MAX];
	const char	*p, *end;
	size_t		 dlen, nlen = strlen(name);
	int		 eacces = 0;

	if (strchr(name, '/') != NULL) {
		execve(name, argv, envp);
		child_exec_script(argv, envp, name);
		return;
	}
	if (path == NULL || *path == '\0')
		path = "/bin:/usr/bin";
	for (p = path; ; p = end + 1) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		dlen = (size_t)(end - p);
		if (dlen == 0)
			dlen = 1, p = ".";	/* an empty entry is the cwd */
		if (dlen + 1 + nlen + 1 <= sizeof buf) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, name, nlen + 1);
			execve(buf, argv, envp);
			if (errno == ENOEXEC)
				child_exec_script(argv, envp, buf);
			if (errno == EACCES)
				eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR &&
			    errno != ESTALE && errno != ENODEV &&
			    errno != ETIMEDOUT && errno != ELOOP)
				return;
		}
		if (*end == '\0')
			break;
	}
	errno = eacces ? EACCES : ENOENT;
}

/*
 * The child, from fork() to exec(). Signals stay blocked (as the parent
 * blocked them for fork) until just before exec, with every disposition
 * back to the default, so nothing of the parent's runs in the child.
 */
static void __attribute__((noreturn)) SPAWN_CHILD_FN
child_main(struct spawn_child *c)
{
	const struct spawn_spec	*sp = c->sp;
	struct sigaction	 sa;
	sigset_t		 none;
	int			 sig;

	child_own_files(c);
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
	child_exec(sp->argv, sp->envp, sp->path, c->path);
	child_fail(c, SPAWN_STEP_EXEC, "cannot run", sp->path);
}

/* The entry point of clone(): a copy of the spec, then child_main(). */
int SPAWN_CHILD_FN
spawn_child_entry(void *arg)
{
	struct spawn_child	c = *(struct spawn_child *)arg;

	child_main(&c);
}

