/*
 * Unit tests for common/spawn.c, the one fork recipe: what a child gets
 * (descriptors, group, environment), how a failed exec is reported, and
 * that signalling a child can never reach a process that is not it.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/spawn.h"

extern char **environ;

/* Write "pid" to /proc/sys/kernel/ns_last_pid so the next fork gets pid + 1. */
static int
set_last_pid(pid_t pid)
{
	char	text[32];
	int	fd, n, rc;

	if ((fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC))
	    == -1)
		return -1;
	n = snprintf(text, sizeof text, "%ld", (long)pid);
	rc = write(fd, text, (size_t)n) == n ? 0 : -1;
	close(fd);
	return rc;
}

/* A spec for argv with fds 0-2 on /dev/null. */
static void
spec_init(struct spawn_spec *sp, char **argv)
{
	memset(sp, 0, sizeof *sp);
	sp->path = argv[0];
	sp->argv = argv;
	sp->envp = environ;
	sp->fds[0] = sp->fds[1] = sp->fds[2] = -1;
	sp->nfds = 3;
}

/* Reap pid; return its exit status, or -1 if it did not exit. */
static int
reap(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Fork a process that waits to be killed, and wait until it does. Check's
 * handler for SIGTERM would kill the whole test instead: the process gets
 * the default, and SIGTERM stays blocked until it has it.
 */
static pid_t
fork_sleeper(void)
{
	sigset_t	term, old;
	pid_t		pid;
	char		c;
	int		ready[2];

	if (pipe2(ready, O_CLOEXEC) == -1)
		return -1;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	if ((pid = fork()) == 0) {
		signal(SIGTERM, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(ready[1]);
		for (;;)
			pause();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(ready[1]);
	if (pid != -1 && read(ready[0], &c, 1) != 0)
		pid = -1;
	close(ready[0]);
	return pid;
}

/*
 * In a child of the test: fork a process that waits to be killed, if it
 * can with pid `want` (the reaped child's, reused), and write its pid to
 * fd. Then wait for it and exit with the number of the signal that killed
 * it, so the test learns which signal reached it first.
 */
static void __attribute__((noreturn))
holder_main(pid_t want, int fd)
{
	pid_t	pid = -1;
	int	status, try;

	for (try = 0; try < 500; try++) {
		if (set_last_pid(want - 1) == -1)
			break;
		pid = fork_sleeper();
		if (pid == want || pid == -1)
			break;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	/* Not root, or the machine forks too much: any other pid will do. */
	if (pid == -1)
		pid = fork_sleeper();
	if (pid == -1 || write(fd, &pid, sizeof pid) != sizeof pid)
		_exit(100);
	close(fd);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			_exit(101);
	_exit(WIFSIGNALED(status) ? WTERMSIG(status) : 102);
}

/*
 * A worker is reaped; its pid now belongs to a process that is none of
 * ours. The supervisor then kills what is left of the worker's group with
 * spawn_signal(): that must not reach the stranger, alone in no group of
 * its own.
 */
START_TEST(test_signal_never_reaches_a_reaped_childs_recycled_pid)
{
	struct spawn_spec	 sp;
	char			*argv[] = { "true", NULL };
	pid_t			 child, holder, stranger;
	int			 fds[2], status, rc;

	spec_init(&sp, argv);
	ck_assert_int_gt(child = spawn_process(&sp), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	if ((holder = fork()) == 0) {
		close(fds[0]);
		holder_main(child, fds[1]);
	}
	ck_assert_int_gt(holder, 0);
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &stranger, sizeof stranger),
	    sizeof stranger);
	close(fds[0]);

	/* What worker_child_cb does after the reap. */
	rc = spawn_signal(child, SIGTERM);
	if (stranger != child)
		rc = spawn_signal(stranger, SIGTERM);
	/* Only now does the stranger get a signal; it must be the first. */
	kill(stranger, SIGKILL);
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	ck_assert_msg(WIFEXITED(status), "holder status 0x%x", status);
	ck_assert_msg(WEXITSTATUS(status) == SIGKILL,
	    "pid %ld (%s the reaped child's) got signal %d from spawn_signal",
	    (long)stranger, stranger == child ? "reusing" : "not reusing",
	    WEXITSTATUS(status));
	ck_assert_int_eq(rc, -1);
}
END_TEST

/*
 * spawn_count_children() counts our children, a zombie too (the
 * supervisor skips a gone worker's sweep on it: a child missed would be
 * a leftover never killed).
 */
START_TEST(test_children_are_counted_zombies_too)
{
	pid_t	a, b;
	int	status;

	if (spawn_count_children() == -1) {
		fprintf(stderr, "# %s: not run: no /proc/thread-self/children\n",
		    __func__);
		return;
	}
	ck_assert_int_eq(spawn_count_children(), 0);
	ck_assert_int_gt(a = fork_sleeper(), 0);
	ck_assert_int_gt(b = fork_sleeper(), 0);
	ck_assert_int_eq(spawn_count_children(), 2);
	kill(a, SIGKILL);
	/* A zombie until reaped: still ours. */
	ck_assert_int_eq(waitid(P_PID, (id_t)a, &(siginfo_t){ 0 },
	    WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(spawn_count_children(), 2);
	ck_assert_int_eq(waitpid(a, &status, 0), a);
	ck_assert_int_eq(spawn_count_children(), 1);
	kill(b, SIGKILL);
	ck_assert_int_eq(waitpid(b, &status, 0), b);
	ck_assert_int_eq(spawn_count_children(), 0);
}
END_TEST

/* A child that has not yet left our group is signalled alone. */
START_TEST(test_signal_reaches_a_child_before_its_setsid)
{
	pid_t	pid;
	int	status;

	ck_assert_int_gt(pid = fork_sleeper(), 0);
	ck_assert_int_eq(spawn_signal(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}
END_TEST

/* Spawn argv with its stdout on a pipe; return what it wrote, reaped. */
static char *
spawn_output(char **argv)
{
	struct spawn_spec	 sp;
	static char		 out[65536];
	size_t			 len = 0;
	ssize_t			 n;
	pid_t			 pid;
	int			 fds[2];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	spec_init(&sp, argv);
	sp.fds[1] = fds[1];
	pid = spawn_process(&sp);
	close(fds[1]);
	ck_assert_int_gt(pid, 0);
	while ((n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	out[len] = '\0';
	ck_assert_int_eq(reap(pid), 0);
	return out;
}

/* True if a listing of /proc/self/fd (one a line) holds fd. */
static int
listing_has(const char *listing, int fd)
{
	char	want[16];
	const char *p;
	size_t	n;

	n = (size_t)snprintf(want, sizeof want, "%d", fd);
	for (p = listing; (p = strstr(p, want)) != NULL; p += n)
		if ((p == listing || p[-1] == '\n') &&
		    (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Spawn "ls /proc/self/fd" with close_range() out of the game, with fds
 * 100 and high open (not close-on-exec) and then RLIMIT_NOFILE lowered to
 * limit (if not 0); fail if the child has either fd.
 */
static void
check_no_leak_without_close_range(int high, rlim_t limit)
{
	char		*argv[] = { "ls", "/proc/self/fd", NULL }, *out;
	struct rlimit	 rl;
	int		 fds[2];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	ck_assert_int_eq(dup2(fds[0], high), high);
	ck_assert_int_eq(dup2(fds[0], 100), 100);
	if (limit != 0) {
		ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
		rl.rlim_cur = limit;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	spawn_test_no_close_range = 1;
	out = spawn_output(argv);
	spawn_test_no_close_range = 0;
	ck_assert_msg(!listing_has(out, 100), "fd 100 leaked: %s", out);
	ck_assert_msg(!listing_has(out, high), "fd %d leaked: %s", high, out);
	ck_assert_msg(listing_has(out, 0) && listing_has(out, 1) &&
	    listing_has(out, 2), "fds 0-2 missing: %s", out);
	close(high);
	close(100);
	close(fds[0]);
	close(fds[1]);
}

/*
 * Without close_range() the child must still close every fd it inherits,
 * also one above the current RLIMIT_NOFILE (opened before the limit was
 * lowered), which a loop up to the limit misses.
 */
START_TEST(test_child_gets_no_fd_above_its_limit_without_close_range)
{
	struct rlimit	rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_ge(rl.rlim_cur, 1024);
	check_no_leak_without_close_range(1000, 0);
	check_no_leak_without_close_range((int)rl.rlim_cur - 1, 256);
}
END_TEST

/*
 * And above 65536, where an earlier fallback stopped. Opening such an fd
 * needs the right to raise RLIMIT_NOFILE that far (CAP_SYS_RESOURCE).
 */
START_TEST(test_child_gets_no_fd_above_65536_without_close_range)
{
	struct rlimit	rl = { 70000, 70000 };

	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		fprintf(stderr, "# %s: not run: cannot raise RLIMIT_NOFILE to "
		    "70000: %s\n", __func__, strerror(errno));
		return;
	}
	check_no_leak_without_close_range(69999, 0);
}
END_TEST

START_TEST(test_report_is_empty_when_the_exec_happens)
{
	struct spawn_spec	 sp;
	struct spawn_failure	 fail;
	char			*argv[] = { "true", NULL };
	pid_t			 pid;

	spec_init(&sp, argv);
	ck_assert_int_gt(pid = spawn_process_report(&sp, &fail), 0);
	ck_assert_int_eq(fail.error, 0);
	ck_assert_int_eq(reap(pid), 0);
}
END_TEST

START_TEST(test_report_says_a_missing_program_is_127)
{
	struct spawn_spec	 sp;
	struct spawn_failure	 fail;
	char			*argv[] = { "mpsup-no-such-program", NULL };
	pid_t			 pid;

	spec_init(&sp, argv);
	ck_assert_int_gt(pid = spawn_process_report(&sp, &fail), 0);
	ck_assert_int_eq(fail.step, SPAWN_STEP_EXEC);
	ck_assert_int_eq(fail.error, ENOENT);
	ck_assert_int_eq(fail.exit_code, 127);
	ck_assert_int_eq(reap(pid), 127);
}
END_TEST

START_TEST(test_report_says_a_bad_folder_is_126)
{
	struct spawn_spec	 sp;
	struct spawn_failure	 fail;
	char			*argv[] = { "true", NULL };
	pid_t			 pid;

	spec_init(&sp, argv);
	sp.cwd = "/nonexistent/folder";
	ck_assert_int_gt(pid = spawn_process_report(&sp, &fail), 0);
	ck_assert_int_eq(fail.step, SPAWN_STEP_CWD);
	ck_assert_int_eq(fail.error, ENOENT);
	ck_assert_int_eq(fail.exit_code, 126);
	ck_assert_int_eq(reap(pid), 126);
}
END_TEST

/* Without a report, the child says why on its fd 2 and exits 127. */
START_TEST(test_failure_without_report_is_a_line_on_fd_2)
{
	struct spawn_spec	 sp;
	char			*argv[] = { "mpsup-no-such-program", NULL };
	char			 out[256];
	ssize_t			 n;
	pid_t			 pid;
	int			 fds[2];

	spec_init(&sp, argv);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	sp.fds[2] = fds[1];
	ck_assert_int_gt(pid = spawn_process(&sp), 0);
	close(fds[1]);
	n = read(fds[0], out, sizeof out - 1);
	close(fds[0]);
	ck_assert_int_gt(n, 0);
	out[n] = '\0';
	ck_assert_str_eq(out, "mpsup: cannot run mpsup-no-such-program: "
	    "No such file or directory\n");
	ck_assert_int_eq(reap(pid), 127);
}
END_TEST

/* A child leads its own group from the moment spawn returns. */
START_TEST(test_child_leads_a_group_or_session_of_its_own)
{
	struct spawn_spec	 sp;
	struct spawn_failure	 fail;
	char			*argv[] = { "sleep", "5", NULL };
	pid_t			 pid;

	spec_init(&sp, argv);
	sp.group = SPAWN_GROUP;
	ck_assert_int_gt(pid = spawn_process_report(&sp, &fail), 0);
	ck_assert_int_eq(getpgid(pid), pid);
	ck_assert_int_eq(getsid(pid), getsid(0));
	ck_assert_int_eq(spawn_signal(pid, SIGKILL), 0);
	ck_assert_int_eq(reap(pid), -1);

	sp.group = SPAWN_SESSION;
	ck_assert_int_gt(pid = spawn_process_report(&sp, &fail), 0);
	ck_assert_int_eq(getsid(pid), pid);
	ck_assert_int_eq(getpgid(pid), pid);
	ck_assert_int_eq(spawn_signal(pid, SIGKILL), 0);
	ck_assert_int_eq(reap(pid), -1);
}
END_TEST

/* fds[i] lands on fd i (-1 on /dev/null); nothing else comes along. */
START_TEST(test_fds_are_moved_into_place)
{
	struct spawn_spec	 sp;
	char			*argv[] = { "sh", "-c",
				    "echo out; echo err >&2; echo three >&3; "
				    "ls /proc/self/fd >&4; read x; echo \"$x\"",
				    NULL };
	char			 buf[4][256];
	int			 p[4][2], i, j;
	ssize_t			 n;
	pid_t			 pid;

	spec_init(&sp, argv);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pipe2(p[i], O_CLOEXEC), 0);
	/* Crossed over, so that moving one cannot clobber another. */
	sp.fds[0] = -1;
	sp.fds[1] = p[1][1];
	sp.fds[2] = p[0][1];
	sp.fds[3] = p[3][1];
	sp.fds[4] = p[2][1];
	sp.nfds = 5;
	ck_assert_int_gt(pid = spawn_process(&sp), 0);
	for (i = 0; i < 4; i++)
		close(p[i][1]);
	for (i = 0; i < 4; i++) {
		j = 0;
		while ((n = read(p[i][0], buf[i] + j, 255 - j)) > 0)
			j += (int)n;
		buf[i][j] = '\0';
		close(p[i][0]);
	}
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_str_eq(buf[0], "err\n");
	ck_assert_str_eq(buf[1], "out\n\n");	/* stdin was /dev/null */
	ck_assert_str_eq(buf[3], "three\n");
	ck_assert_msg(listing_has(buf[2], 4) && !listing_has(buf[2], 6) &&
	    !listing_has(buf[2], 7), "fds: %s", buf[2]);
}
END_TEST

/* Read fd until EOF, waiting at most 2 s for each read; NUL-ended. */
static void
read_to_eof(int fd, char *buf, size_t len)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	size_t		got = 0;
	ssize_t		n;

	for (;;) {
		ck_assert_msg(poll(&pfd, 1, 2000) == 1,
		    "no EOF on fd %d: a copy of its write end is held", fd);
		if ((n = read(fd, buf + got, len - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
}

/*
 * A process with many fds (the supervisor with hundreds of workers'
 * pipes) has its child's fds moved into the reserved slots: the child
 * still gets the right pipes on 0-2 and nothing else, our own 0-2 stay
 * ours, and once spawned, no slot holds a pipe end any more (or the pipe
 * would never reach EOF). Twice, as the slots are reused.
 */
START_TEST(test_fds_far_above_the_reserved_slots_reach_the_child)
{
	struct spawn_spec	 sp;
	struct spawn_failure	 fail;
	struct stat		 before[3], after[3];
	char			*argv[] = { "sh", "-c",
				    "echo out; echo err >&2; ls /proc/self/fd",
				    NULL };
	char			 out[4096], err[256];
	int			 o[2], e[2], i, round, nul;
	pid_t			 pid;

	ck_assert_int_eq(spawn_reserve_fds(), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(fstat(i, &before[i]), 0);
	ck_assert_int_ge(nul = open("/dev/null", O_RDONLY), 0);
	ck_assert_int_eq(dup2(nul, 150), 150);	/* not close-on-exec */
	for (round = 0; round < 2; round++) {
		ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
		ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
		ck_assert_int_eq(dup3(o[1], 300, O_CLOEXEC), 300);
		ck_assert_int_eq(dup3(e[1], 301, O_CLOEXEC), 301);
		close(o[1]);
		close(e[1]);
		spec_init(&sp, argv);
		sp.fds[1] = 300;
		sp.fds[2] = 301;
		pid = spawn_process_report(&sp, &fail);
		ck_assert_int_gt(pid, 0);
		ck_assert_int_eq(fail.error, 0);
		close(300);
		close(301);
		read_to_eof(o[0], out, sizeof out);
		read_to_eof(e[0], err, sizeof err);
		close(o[0]);
		close(e[0]);
		ck_assert_int_eq(reap(pid), 0);
		ck_assert_msg(strncmp(out, "out\n", 4) == 0, "out: %s", out);
		ck_assert_str_eq(err, "err\n");
		ck_assert_msg(listing_has(out + 4, 2) &&
		    !listing_has(out + 4, 150) && !listing_has(out + 4, 300) &&
		    !listing_has(out + 4, 301), "fds: %s", out + 4);
	}
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(fstat(i, &after[i]), 0);
		ck_assert(before[i].st_dev == after[i].st_dev &&
		    before[i].st_ino == after[i].st_ino);
	}
	close(150);
	close(nul);
}
END_TEST

START_TEST(test_env_build_overrides_appends_and_unsets)
{
	char	*base[] = { "A=1", "B=2", "junk", "C=3", NULL };
	char	*over[] = { "B=20", "D=4", "A", "E", "C=30", "D=40" };
	char	**env;

	env = spawn_env_build(base, over, 6);
	ck_assert_str_eq(env[0], "B=20");
	ck_assert_str_eq(env[1], "C=30");
	ck_assert_str_eq(env[2], "D=40");
	ck_assert_ptr_null(env[3]);
	spawn_env_free(env);
}
END_TEST

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_dir(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* A temporary folder holding an executable file name with text. */
static void
make_program(char *dir, size_t dirlen, const char *name, const char *text,
    mode_t mode)
{
	char	path[512];
	int	fd;

	if (dir[0] == '\0') {
		snprintf(dir, dirlen, "/tmp/mpsup-check-spawn-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(dir));
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, mode), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_path_is_the_childs_and_ours_is_left_alone)
{
	struct spawn_spec	 sp;
	char			 dir[64] = "", pathvar[128];
	char			*argv[] = { "mpsup-probe", NULL };
	char			*envp[] = { pathvar, NULL };
	char			**before = environ;
	const char		*ours = getenv("PATH");
	pid_t			 pid;

	make_program(dir, sizeof dir, "mpsup-probe", "#!/bin/sh\nexit 42\n",
	    0755);
	snprintf(pathvar, sizeof pathvar, "PATH=/nonexistent::%s", dir);
	spec_init(&sp, argv);
	sp.envp = envp;
	sp.envp_path = 1;
	ck_assert_int_gt(pid = spawn_process(&sp), 0);
	ck_assert_int_eq(reap(pid), 42);
	/* The child shared our memory until its exec: nothing of ours moved. */
	ck_assert_ptr_eq(environ, before);
	ck_assert_str_eq(getenv("PATH"), ours);
	/* Without envp_path, our PATH is searched: no such program there. */
	sp.envp_path = 0;
	ck_assert_int_gt(pid = spawn_process(&sp), 0);
	ck_assert_int_eq(reap(pid), 127);
	rm_dir(dir);
}
END_TEST

START_TEST(test_a_script_without_shebang_runs_under_sh)
{
	struct spawn_spec	 sp;
	char			 dir[64] = "", path[128];
	char			*argv[] = { path, "7", NULL };
	pid_t			 pid;

	make_program(dir, sizeof dir, "plain", "exit $((36 + $1))\n", 0755);
	snprintf(path, sizeof path, "%s/plain", dir);
	spec_init(&sp, argv);
	ck_assert_int_gt(pid = spawn_process(&sp), 0);
	ck_assert_int_eq(reap(pid), 43);
	rm_dir(dir);
}
END_TEST

START_TEST(test_a_file_we_may_not_run_is_passed_over_then_reported)
{
	struct spawn_spec	 sp;
	struct spawn_failure	 fail;
	char			 a[64] = "", b[64] = "", pathvar[200];
	char			*argv[] = { "mpsup-probe", NULL };
	char			*envp[] = { pathvar, NULL };
	pid_t			 pid;

	make_program(a, sizeof a, "mpsup-probe", "#!/bin/sh\nexit 1\n", 0644);
	make_program(b, sizeof b, "mpsup-probe", "#!/bin/sh\nexit 5\n", 0755);
	snprintf(pathvar, sizeof pathvar, "PATH=%s:%s", a, b);
	spec_init(&sp, argv);
	sp.envp = envp;
	sp.envp_path = 1;
	ck_assert_int_gt(pid = spawn_process(&sp), 0);
	ck_assert_int_eq(reap(pid), 5);
	snprintf(pathvar, sizeof pathvar, "PATH=%s", a);
	ck_assert_int_gt(pid = spawn_process_report(&sp, &fail), 0);
	ck_assert_int_eq(fail.error, EACCES);
	ck_assert_int_eq(fail.exit_code, 126);
	ck_assert_int_eq(reap(pid), 126);
	rm_dir(a);
	rm_dir(b);
}
END_TEST

START_TEST(test_a_user_gets_its_own_supplementary_groups)
{
	struct spawn_spec	 sp;
	struct passwd		*pw;
	gid_t			 want[64];
	char			*argv[] = { "id", "-G", NULL }, out[512];
	char			 expect[520];
	int			 n = 64, i, p[2];
	size_t			 len = 0;
	ssize_t			 r;
	pid_t			 pid;

	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL)
		return;		/* needs root, and the user nobody */
	ck_assert_int_ne(getgrouplist("nobody", pw->pw_gid, want, &n), -1);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	spec_init(&sp, argv);
	sp.fds[1] = p[1];
	sp.set_creds = 1;
	sp.uid = pw->pw_uid;
	sp.gid = pw->pw_gid;
	sp.user = "nobody";
	ck_assert_int_gt(pid = spawn_process(&sp), 0);
	close(p[1]);
	while ((r = read(p[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)r;
	close(p[0]);
	out[len] = '\0';
	if (len > 0 && out[len - 1] == '\n')
		out[len - 1] = '\0';
	ck_assert_int_eq(reap(pid), 0);
	/* id -G: the effective group first, then each supplementary one. */
	ck_assert_int_eq(atol(out), (long)pw->pw_gid);
	for (i = 0; i < n; i++) {
		char	word[32];

		snprintf(word, sizeof word, " %ld ", (long)want[i]);
		snprintf(expect, sizeof expect, " %s ", out);
		ck_assert_msg(strstr(expect, word) != NULL,
		    "id -G said \"%s\", without group %ld", out, (long)want[i]);
	}
}
END_TEST

/*
 * In a child of the test: lead a session, put a child in a process group
 * of its own, write that child's pid to fd, and wait to be killed.
 */
static void __attribute__((noreturn))
session_main(int fd)
{
	pid_t	bg;

	if (setsid() == -1)
		_exit(1);
	if ((bg = fork()) == 0) {
		(void)setpgid(0, 0);
		for (;;)
			pause();
	}
	/* Both sides, so that the group exists before its pid is told. */
	(void)setpgid(bg, bg);
	if (bg == -1 || write(fd, &bg, sizeof bg) != (ssize_t)sizeof bg)
		_exit(1);
	for (;;)
		pause();
}

/*
 * What a session leader leaves behind in a process group of its own is
 * found and killed once the leader is reaped; nothing else is touched.
 */
START_TEST(test_sweep_kills_what_a_session_left_in_other_groups)
{
	int	p[2], status;
	pid_t	pid, bg = -1;

	/* The orphaned child comes back to us, to be reaped here. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	if ((pid = fork()) == 0)
		session_main(p[1]);
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	ck_assert_int_eq(read(p[0], &bg, sizeof bg), (ssize_t)sizeof bg);
	close(p[0]);
	ck_assert_int_eq(getsid(bg), pid);
	ck_assert_int_eq(getpgid(bg), bg);
	/* The leader alone: a kill of its group would miss bg. */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(reap(pid), -1);
	ck_assert_uint_eq(spawn_sweep_session(pid), 1);
	ck_assert_int_eq(waitpid(bg, &status, 0), bg);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Nothing is left: a second sweep finds nothing. */
	ck_assert_uint_eq(spawn_sweep_session(pid), 0);
}
END_TEST

static Suite *
spawn_suite(void)
{
	Suite	*s = suite_create("spawn");
	TCase	*tc;

	tc = tcase_create("signal");
	tcase_add_test(tc, test_signal_never_reaches_a_reaped_childs_recycled_pid);
	tcase_add_test(tc, test_signal_reaches_a_child_before_its_setsid);
	tcase_add_test(tc, test_children_are_counted_zombies_too);
	tcase_add_test(tc, test_sweep_kills_what_a_session_left_in_other_groups);
	suite_add_tcase(s, tc);

	tc = tcase_create("exec");
	tcase_add_test(tc, test_report_is_empty_when_the_exec_happens);
	tcase_add_test(tc, test_report_says_a_missing_program_is_127);
	tcase_add_test(tc, test_report_says_a_bad_folder_is_126);
	tcase_add_test(tc, test_failure_without_report_is_a_line_on_fd_2);
	tcase_add_test(tc, test_child_leads_a_group_or_session_of_its_own);
	tcase_add_test(tc, test_env_build_overrides_appends_and_unsets);
	tcase_add_test(tc, test_path_is_the_childs_and_ours_is_left_alone);
	tcase_add_test(tc, test_a_script_without_shebang_runs_under_sh);
	tcase_add_test(tc,
	    test_a_file_we_may_not_run_is_passed_over_then_reported);
	tcase_add_test(tc, test_a_user_gets_its_own_supplementary_groups);
	suite_add_tcase(s, tc);

	tc = tcase_create("fds");
	tcase_add_test(tc, test_fds_are_moved_into_place);
	tcase_add_test(tc, test_fds_far_above_the_reserved_slots_reach_the_child);
	tcase_add_test(tc, test_child_gets_no_fd_above_its_limit_without_close_range);
	tcase_add_test(tc, test_child_gets_no_fd_above_65536_without_close_range);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(spawn_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
