/*
 * Unit tests for common/spawn.c, the one fork recipe: what a child gets
 * (descriptors, group, environment), how a failed exec is reported, and
 * that signalling a child can never reach a process that is not it.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

	memset(&sp, 0, sizeof sp);
	sp.path = "true";
	sp.argv = argv;
	sp.envp = argv + 1;
	sp.fds[0] = sp.fds[1] = sp.fds[2] = -1;
	sp.nfds = 3;
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
	int			 fds[2], status;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	memset(&sp, 0, sizeof sp);
	sp.path = argv[0];
	sp.argv = argv;
	sp.envp = environ;
	sp.fds[0] = -1;
	sp.fds[1] = fds[1];
	sp.fds[2] = -1;
	sp.nfds = 3;
	pid = spawn_process(&sp);
	close(fds[1]);
	ck_assert_int_gt(pid, 0);
	while ((n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	out[len] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: status 0x%x", argv[0], status);
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

static Suite *
spawn_suite(void)
{
	Suite	*s = suite_create("spawn");
	TCase	*tc;

	tc = tcase_create("signal");
	tcase_add_test(tc, test_signal_never_reaches_a_reaped_childs_recycled_pid);
	tcase_add_test(tc, test_signal_reaches_a_child_before_its_setsid);
	suite_add_tcase(s, tc);

	tc = tcase_create("fds");
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
