/*
 * The C unit tests' private redis-server (redisd.h) does what the cluster
 * queue's tests rely on: it answers on its own socket, two are apart, a
 * stop leaves neither a process nor a file, and a test process that dies
 * without stopping it takes it along.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/redisd.h"

/* Whether pid runs (a zombie does not). */
static int
alive(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*fp;
	size_t	 n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return 0;
	return p[2] != 'Z';
}

static void
ask(const char *sock, const char *want, const char *a0, const char *a1,
    const char *a2)
{
	const char	*argv[] = { a0, a1, a2, NULL };
	char		 reply[256];

	ck_assert_msg(redisd_ask(sock, argv, reply, sizeof reply) == 0,
	    "%s: no reply to %s", sock, a0);
	ck_assert_str_eq(reply, want);
}

static int
remove_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

START_TEST(test_it_answers_and_stop_leaves_nothing)
{
	static const char *const ping[] = { "PING", NULL };
	struct redisd	 r;
	const char	*sock;
	char		 dir[sizeof r.dir], reply[64];
	pid_t		 pid;

	ck_assert_ptr_nonnull(sock = redisd_start(&r));
	ck_assert_str_eq(sock, r.sock);
	ck_assert(strncmp(sock, "/tmp/mpsup-redisd-", 18) == 0);
	ck_assert(strncmp(sock, r.dir, strlen(r.dir)) == 0);
	ck_assert(alive(r.pid));
	ask(sock, "+PONG", "PING", NULL, NULL);
	ask(sock, "+OK", "SET", "k", "v");
	ask(sock, "$1", "GET", "k", NULL);
	ask(sock, ":1", "INCR", "n", NULL);
	ask(sock, "-ERR unknown command 'NOPE', with args beginning with: ",
	    "NOPE", NULL, NULL);
	pid = r.pid;
	snprintf(dir, sizeof dir, "%s", r.dir);
	redisd_stop(&r);
	ck_assert_int_eq(r.pid, 0);
	ck_assert_msg(!alive(pid), "redis-server %ld still runs", (long)pid);
	ck_assert_int_eq(kill(pid, 0), -1);	/* reaped, not a zombie */
	ck_assert_int_eq(access(dir, F_OK), -1);
	ck_assert_int_eq(redisd_ask(sock, ping, reply, sizeof reply), -1);
	redisd_stop(&r);
}
END_TEST

START_TEST(test_two_servers_are_apart)
{
	struct redisd	a, b;

	ck_assert_ptr_nonnull(redisd_start(&a));
	ck_assert_ptr_nonnull(redisd_start(&b));
	ck_assert_str_ne(a.sock, b.sock);
	ask(a.sock, "+OK", "SET", "k", "a");
	ask(b.sock, "$-1", "GET", "k", NULL);
	ask(a.sock, "$1", "GET", "k", NULL);
	redisd_stop(&a);
	ask(b.sock, "+PONG", "PING", NULL, NULL);
	redisd_stop(&b);
}
END_TEST

/* A test that crashes without redisd_stop() takes its server along. */
START_TEST(test_a_dying_test_leaves_no_server)
{
	struct redisd	 r;
	struct timespec	 nap = { 0, 10 * 1000 * 1000 };
	int		 fds[2], i;
	pid_t		 child;

	ck_assert_int_eq(pipe(fds), 0);
	if ((child = fork()) == 0) {
		close(fds[0]);
		if (redisd_start(&r) == NULL)
			_exit(1);
		if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
			_exit(1);
		kill(getpid(), SIGKILL);
	}
	ck_assert_int_gt(child, 0);
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
	close(fds[0]);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	for (i = 0; i < 500 && alive(r.pid); i++)
		nanosleep(&nap, NULL);
	ck_assert_msg(!alive(r.pid), "redis-server %ld outlived its test",
	    (long)r.pid);
	nftw(r.dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

static Suite *
redisd_suite(void)
{
	Suite	*s = suite_create("redisd");
	TCase	*tc = tcase_create("redisd");

	tcase_add_test(tc, test_it_answers_and_stop_leaves_nothing);
	tcase_add_test(tc, test_two_servers_are_apart);
	tcase_add_test(tc, test_a_dying_test_leaves_no_server);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(redisd_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
