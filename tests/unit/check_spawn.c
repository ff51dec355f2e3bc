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
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/spawn.h"

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

static Suite *
spawn_suite(void)
{
	Suite	*s = suite_create("spawn");
	TCase	*tc;

	tc = tcase_create("signal");
	tcase_add_test(tc, test_signal_never_reaches_a_reaped_childs_recycled_pid);
	tcase_add_test(tc, test_signal_reaches_a_child_before_its_setsid);
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
